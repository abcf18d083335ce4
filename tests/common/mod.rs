//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses its own subset

use std::time::{Duration, Instant};

/// Torch's generator is process-wide: tests that seed it must not interleave.
pub fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls `ready` every `every` until it holds or a minute has passed.
pub fn wait_until(every: Duration, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(every);
    }
}
