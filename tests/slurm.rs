//! `sweep --slurm` against a real Slurm: the test starts munged, slurmctld and slurmd for
//! this machine alone, with a config it writes into a temporary folder, submits a 4-cell
//! array of tiny runs, requeues one running task (as a preemption would) and checks that it
//! resumed from its checkpoint and that all four run folders are complete. Skipped, with a
//! message, only where Slurm and munge are not installed (scripts/setup.sh installs them).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use virel_lab::study::sweep::{CellState, Sweep};

fn installed(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// munged, slurmctld and slurmd of one test; stopped when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for pid in ["slurmd.pid", "slurmctld.pid", "munged.pid"] {
            if let Ok(p) = std::fs::read_to_string(self.dir.join(pid)) {
                let _ = Command::new("kill").arg(p.trim()).status();
            }
        }
    }
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        for d in ["state", "spool", "log"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let key = dir.join("munge.key");
        let bytes: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&key, bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let socket = dir.join("munge.sock");
        let ok = Command::new("munged")
            .arg("--force")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--pid-file={}", dir.join("munged.pid").display()))
            .arg(format!(
                "--log-file={}",
                dir.join("log/munged.log").display()
            ))
            .arg(format!("--seed-file={}", dir.join("munge.seed").display()))
            .status()
            .unwrap()
            .success();
        assert!(ok, "munged starts");
        let host = virel_lab::training::host_name();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let d = dir.display();
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=virel-test\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\n\
                 AuthType=auth/munge\nAuthInfo=socket={},cred_expire=10\nCredType=cred/munge\n\
                 StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
                 SlurmctldLogFile={d}/log/slurmctld.log\nSlurmdLogFile={d}/log/slurmd.log\n\
                 SlurmctldPort={}\nSlurmdPort={}\nProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\nSelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
                 MpiDefault=none\nReturnToService=2\nSchedulerType=sched/backfill\n\
                 JobCompType=jobcomp/none\nAccountingStorageType=accounting_storage/none\n\
                 JobAcctGatherType=jobacct_gather/none\nKillWait=30\nMinJobAge=600\n\
                 NodeName={host} CPUs={cpus} RealMemory=2000 State=UNKNOWN\n\
                 PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
                socket.display(),
                free_port(),
                free_port(),
            ),
        )
        .unwrap();
        // cred_expire: a requeued task waits this long plus a second before it runs again
        // (Slurm's default, 120 s, would make the test wait two minutes).
        let cluster = Cluster {
            dir: dir.to_owned(),
            conf: conf.clone(),
        };
        for daemon in ["slurmctld", "slurmd"] {
            let ok = Command::new(daemon)
                .arg("-f")
                .arg(&conf)
                .env("SLURM_CONF", &conf)
                .status()
                .unwrap()
                .success();
            assert!(ok, "{daemon} starts (log in {d}/log)");
        }
        let start = Instant::now();
        while !cluster.slurm("sinfo", &["-h", "-o", "%T"]).contains("idle") {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the node is not idle after a minute: {}",
                cluster.slurm("sinfo", &[])
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        cluster
    }

    fn slurm(&self, program: &str, args: &[&str]) -> String {
        let o = Command::new(program)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    }
}

#[test]
fn a_slurm_job_array_trains_every_cell_and_a_requeued_task_resumes() {
    let needed = [
        "munged",
        "slurmctld",
        "slurmd",
        "sbatch",
        "squeue",
        "scontrol",
    ];
    if let Some(missing) = needed.iter().find(|p| !installed(p)) {
        eprintln!(
            "SKIPPED: {missing} is not installed (scripts/setup.sh installs slurm-wlm and munge)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&dir.path().join("slurm"));
    let file = common::tiny_sweep(
        dir.path(),
        3000,
        "[slurm]\ntime = \"0:20:00\"\npartition = \"debug\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_virel-lab"))
        .args(["sweep", file.to_str().unwrap(), "--slurm"])
        .env("SLURM_CONF", &cluster.conf)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    let job = text
        .split_whitespace()
        .nth(2)
        .map(|s| s.trim_end_matches(':').to_owned())
        .unwrap();
    assert!(
        job.chars().all(|c| c.is_ascii_digit()),
        "job id in '{text}'"
    );
    let sweep = Sweep::load(&file).unwrap();

    // Requeue the task of cell 0 once it has checkpointed, while it still runs.
    let cell0 = sweep.dir(&sweep.cells[0]);
    let start = Instant::now();
    loop {
        let state = sweep.state(&sweep.cells[0]).unwrap();
        if matches!(state, CellState::Busy { .. })
            && virel_lab::training::checkpoint::list(&cell0).is_ok_and(|c| !c.is_empty())
        {
            break;
        }
        assert!(
            !matches!(state, CellState::Done { .. }),
            "cell 0 finished before it could be requeued"
        );
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "cell 0 never ran: {}",
            cluster.slurm("squeue", &[])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let requeue = cluster.slurm("scontrol", &["requeue", &format!("{job}_0")]);
    assert!(requeue.trim().is_empty(), "scontrol requeue: {requeue}");

    // Every cell ends complete.
    let start = Instant::now();
    while !sweep
        .states()
        .unwrap()
        .iter()
        .all(|s| matches!(s, CellState::Done { .. }))
    {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "not all cells finished in 10 minutes: {:?}\n{}",
            sweep.states().unwrap(),
            cluster.slurm("squeue", &[])
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for c in &sweep.cells {
        let d = sweep.dir(c);
        for f in ["config.toml", "summary.toml", "metrics.csv"] {
            assert!(d.join(f).is_file(), "{}: no {f}", c.name());
        }
        let CellState::Done { summary } = sweep.state(c).unwrap() else {
            unreachable!()
        };
        assert_eq!(summary.env_steps, 3000, "{}", c.name());
        assert!(summary.final_eval.is_some());
    }
    let log = std::fs::read_to_string(sweep.log_dir().join(format!("slurm-{job}_0.log"))).unwrap();
    assert!(
        log.contains("interrupted by SIGTERM") && log.contains("resuming sac from"),
        "cell 0's log shows its stop and its resume:\n{log}"
    );
    let summary0 = std::fs::read_to_string(cell0.join("summary.toml")).unwrap();
    let resumed: virel_lab::training::RunSummary = toml::from_str(&summary0).unwrap();
    assert!(
        resumed.updates > 0 && resumed.wall_seconds > 0.0,
        "the resumed run trained on: {summary0}"
    );
}
