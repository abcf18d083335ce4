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
