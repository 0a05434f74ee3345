//! CPU time of the calling thread, which the benches measure instead of
//! wall-clock time: on a machine shared with other work, a bench that is
//! descheduled would otherwise be charged for the other processes' time.

use std::time::Duration;

/// CPU time this thread has used.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `iters` runs of `routine`, each on a fresh `setup()` made outside the
/// time taken; returns the thread's CPU time inside `routine` alone.
pub fn batched<I>(
    iters: u64,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(I),
) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let input = setup();
        let t0 = thread_cpu();
        routine(input);
        spent += thread_cpu() - t0;
    }
    spent
}
