//! Ctrl-C, SIGTERM and SIGHUP: the first asks the run to stop, which it does within a
//! vector step or an evaluation episode's step (a checkpoint is written, `summary.toml`
//! says `interrupted = true`, and the process exits 128 + the signal: 130 for SIGINT, 143
//! for SIGTERM); a second signal exits at once (the last checkpoint on disk is intact
//! either way).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set by a signal: the run saves a checkpoint and stops.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The signal that set [`INTERRUPTED`] (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// What an evaluation or a run that stopped for a signal returns.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by a signal")]
pub struct Interrupted;

/// The signals that stop a run.
const SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// Installs the handlers (once per process; later calls do nothing).
pub fn install_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for sig in SIGNALS {
            let action = move || {
                if INTERRUPTED.swap(true, Ordering::SeqCst) {
                    signal_hook::low_level::exit(128 + sig);
                }
                SIGNAL.store(sig, Ordering::SeqCst);
            };
            // SAFETY: the action only touches atomics and calls `_exit`, both
            // async-signal-safe.
            if let Err(e) = unsafe { signal_hook::low_level::register(sig, action) } {
                eprintln!("warning: cannot handle signal {sig}: {e}");
            }
        }
    });
}

/// Whether a signal asked the run to stop.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The name of the signal that stopped the run.
pub fn signal_name() -> &'static str {
    match SIGNAL.load(Ordering::SeqCst) {
        signal_hook::consts::SIGINT => "Ctrl-C (SIGINT)",
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "a stop request",
    }
}

/// The conventional exit status of a process stopped by that signal: 128 + its number
/// (130 for SIGINT, 143 for SIGTERM); 130 when it was not a signal.
pub fn exit_code() -> u8 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => 130,
        sig => (128 + sig).clamp(0, 255) as u8,
    }
}
