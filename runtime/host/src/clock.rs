//! The monotonic clock the engine sees (WASI `clock_time_get` and `poll_oneoff`).
//!
//! It is the system's `CLOCK_MONOTONIC` (time since boot), not a process-relative `Instant`, so
//! that a snapshot taken by one `wisp` process and served by the next sees a clock that only
//! moves forward.

pub fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0);
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}
