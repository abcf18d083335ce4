//! Process-wide libtorch settings measured to matter on small CPUs (DEVELOPERS.md, Stack).

/// Call first thing in `main`, before any thread or torch call exists: OpenMP reads
/// `OMP_WAIT_POLICY` once, at start-up. Passive waiting keeps idle torch threads from
/// spinning against the env and the render loop.
pub fn set_process_env() {
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        // SAFETY: called at the top of `main`, while the process is single-threaded.
        unsafe { std::env::set_var("OMP_WAIT_POLICY", "PASSIVE") };
    }
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
