//! Process-wide libtorch settings measured to matter on small CPUs (DEVELOPERS.md, Stack).

/// Call first thing in `main`, before any thread or torch call exists: OpenMP reads
/// `OMP_WAIT_POLICY` once, at start-up. Passive waiting keeps idle torch threads from
/// spinning against the env and the render loop. Then [`keep_freed_memory`].
pub fn set_process_env() {
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        // SAFETY: called at the top of `main`, while the process is single-threaded.
        unsafe { std::env::set_var("OMP_WAIT_POLICY", "PASSIVE") };
    }
    keep_freed_memory();
    // Keeps the overrides below in the binary (build.rs exports them to libtorch).
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    std::hint::black_box([
        mkl_serv_intel_cpu as extern "C" fn() -> std::ffi::c_int,
        mkl_serv_intel_cpu_true,
    ]);
}

/// MKL, libtorch's BLAS on x86, picks its matrix-multiply kernels by CPU *vendor*: on AMD it
/// asks `mkl_serv_intel_cpu()`, hears no, and takes its generic path, whatever the CPU
/// supports (`mkl_blas_def_sgemm_kernel_0_zen`, AVX2, on this AVX-512 EPYC: ~60% of a SAC
/// step's time). libtorch exports that function (and `mkl_serv_intel_cpu_true`, behind it) and
/// calls them through its PLT, so these definitions, exported from the executable (build.rs),
/// answer in their place: MKL then chooses by the CPU's feature flags, as it does on Intel
/// (AVX-512 kernels here, which `MKL_VERBOSE=1` names; AVX2 on a CPU without AVX-512).
/// Measured in `bench updates` and `bench training`. `VIREL_MKL_VENDOR_CHECK=1` keeps MKL's
/// own answer (yes only on Intel CPUs).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[unsafe(no_mangle)]
pub extern "C" fn mkl_serv_intel_cpu() -> std::ffi::c_int {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let by_features = *ANSWER.get_or_init(|| {
        std::env::var_os("VIREL_MKL_VENDOR_CHECK").is_none_or(|v| v != "1") || intel_cpu()
    });
    std::ffi::c_int::from(by_features)
}

/// See [`mkl_serv_intel_cpu`].
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[unsafe(no_mangle)]
pub extern "C" fn mkl_serv_intel_cpu_true() -> std::ffi::c_int {
    mkl_serv_intel_cpu()
}

/// The CPUID vendor string is "GenuineIntel".
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn intel_cpu() -> bool {
    let r = std::arch::x86_64::__cpuid(0);
    let mut vendor = Vec::with_capacity(12);
    for reg in [r.ebx, r.edx, r.ecx] {
        vendor.extend_from_slice(&reg.to_le_bytes());
    }
    vendor == b"GenuineIntel"
}

/// glibc's malloc hands blocks over 128 KB (a 256×256 weight or its gradient) to `mmap` and
/// trims the heap's top back to the kernel, so every gradient step mapped, faulted in, zeroed
/// and unmapped its tensors again: 5–25% of a SAC step in the kernel (Pendulum, 256-256,
/// release, 4000 steps: sys 1.7–9.5 s of 29–40 s wall). With blocks up to 32 MB served from
/// the heap and no trimming, sys falls to 0.06 s and the wall time to 25–29 s. Memory freed by
/// torch is kept for its next allocation instead of being returned to the system.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds; called before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Mesa's software renderers (llvmpipe, and lavapipe for Vulkan) rasterise on one thread per
/// core unless `LP_NUM_THREADS` says otherwise, so beside the app's training threads they and
/// training take turns on every core. This leaves the training threads their cores: the
/// renderer gets the others, at least one (measured in the README, "The app's speed"). A
/// value the user set is kept; GPU drivers ignore the variable.
pub fn leave_cores_to_training(training_threads: usize) {
    const VAR: &str = "LP_NUM_THREADS";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.saturating_sub(training_threads).max(1);
    // SAFETY: called by the app before it starts any thread (no other thread reads or writes
    // the environment meanwhile).
    unsafe { std::env::set_var(VAR, threads.to_string()) };
}

/// Torch intra-op threads, and flush-to-zero for denormals on this thread: a loss driven to ~0
/// fills tensors with denormals, which slows CPU updates 5–10×.
pub fn init_torch(threads: i32) {
    tch::set_num_threads(threads.max(1));
    flush_denormals();
}

/// Sets the FTZ and DAZ bits of MXCSR, as `torch.set_flush_denormal(True)` does.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: MXCSR bits 6 (DAZ) and 15 (FTZ) only change how denormal floats are treated.
    #[allow(deprecated)]
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() | 0x8040);
    }
}

/// The cores this process may run on (its affinity mask, as `taskset` sets it), in order;
/// `[0, 1, …]` up to the available parallelism where the mask cannot be read.
pub fn allowed_cores() -> Vec<usize> {
    // SAFETY: sched_getaffinity fills a CPU set on the stack; CPU_ISSET only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect();
            if !cores.is_empty() {
                return cores;
            }
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// Runs a child process on `cores` only (its threads included): runs side by side then
/// neither share nor trade cores.
pub fn pin_to_cores(cmd: &mut std::process::Command, cores: &[usize]) {
    use std::os::unix::process::CommandExt;
    let cores = cores.to_vec();
    // SAFETY: between fork and exec the closure only builds a CPU set on the stack and makes
    // one system call, both async-signal-safe (the cores were copied before the fork).
    unsafe {
        cmd.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &core in &cores {
                libc::CPU_SET(core, &mut set);
            }
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A closed pipe downstream (`virel-lab … | head`) ends the process quietly, as it does for
/// other Unix tools, instead of making `println!` panic: SIGPIPE back to its default action
/// (Rust's runtime ignores it).
pub fn exit_quietly_on_closed_pipe() {
    // SAFETY: restoring a signal's default disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
