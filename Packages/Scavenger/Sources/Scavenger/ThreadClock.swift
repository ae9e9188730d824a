// Clocks the worker paces itself by. No allocation, no lazy globals.
import Glibc

/// The calling thread's CPU time and the monotonic clock, in nanoseconds.
public enum ThreadClock {
    /// CPU time consumed by the calling thread (`CLOCK_THREAD_CPUTIME_ID`):
    /// user and system time, so `madvise`'s page freeing is included.
    @inlinable public static var cpuNanoseconds: Int { read(CLOCK_THREAD_CPUTIME_ID) }
    /// `CLOCK_MONOTONIC`.
    @inlinable public static var monotonicNanoseconds: Int { read(CLOCK_MONOTONIC) }

    @inlinable static func read(_ clock: clockid_t) -> Int {
        var t = timespec()
        clock_gettime(clock, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }
}
