import Glibc

/// CPU time of the calling thread: on a shared, noisy machine it does not
/// count the time other processes held the core, unlike wall-clock time.
public enum ThreadCPUClock {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
