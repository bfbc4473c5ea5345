#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Kernel event times are CLOCK_MONOTONIC (L7Spans' ClockConversion turns them into Unix time).
public enum MonotonicClock {
    /// CLOCK_MONOTONIC now, in nanoseconds (the clock of `bpf_ktime_get_ns`).
    public static func nowNs() -> UInt64 {
        read(CLOCK_MONOTONIC)
    }

    private static func read(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
