#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Kernel event times are CLOCK_MONOTONIC; spans need Unix time.
public enum MonotonicClock {
    /// CLOCK_MONOTONIC now, in nanoseconds (the clock of `bpf_ktime_get_ns`).
    public static func nowNs() -> UInt64 {
        read(CLOCK_MONOTONIC)
    }

    /// Realtime minus monotonic, in nanoseconds: add it to a kernel time to
    /// get Unix nanoseconds. Taken from the tightest of a few bracketed reads
    /// so a preemption between the two clock reads does not skew it.
    public static func unixOffsetNs() -> Int64 {
        var best: (width: UInt64, offset: Int64) = (.max, 0)
        for _ in 0..<5 {
            let before = read(CLOCK_MONOTONIC)
            let real = read(CLOCK_REALTIME)
            let after = read(CLOCK_MONOTONIC)
            let width = after &- before
            if width < best.width {
                let middle = before + width / 2
                best = (width, Int64(bitPattern: real &- middle))
            }
        }
        return best.offset
    }

    private static func read(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
