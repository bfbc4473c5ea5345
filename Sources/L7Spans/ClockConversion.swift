#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the kernel's CLOCK_MONOTONIC nanoseconds into Unix nanoseconds.
///
/// The offset (realtime − monotonic) is taken once, at start, and then kept:
/// re-reading it per span would let NTP steps reorder spans of one trace.
public struct ClockConversion: Sendable, Equatable {
    /// Realtime minus monotonic, in nanoseconds.
    public var offsetNs: Int64

    public init(offsetNs: Int64) { self.offsetNs = offsetNs }

    /// From one pair of readings taken as close together as possible.
    public init(realtimeNs: UInt64, monotonicNs: UInt64) {
        self.offsetNs = Int64(bitPattern: realtimeNs &- monotonicNs)
    }

    /// Reads both clocks now.
    public static func current() -> ClockConversion {
        var mono = timespec(), real = timespec(), mono2 = timespec()
        // Bracket the realtime read so the offset error is at most half the gap.
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono2)
        func ns(_ t: timespec) -> UInt64 { UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec) }
        let monoMid = ns(mono) / 2 + ns(mono2) / 2
        return ClockConversion(realtimeNs: ns(real), monotonicNs: monoMid)
    }

    /// Unix nanoseconds for a monotonic timestamp (0 would mean "unset" to
    /// OTLP, so results clamp at 1).
    public func unixNanos(fromMonotonic monotonicNs: UInt64) -> UInt64 {
        let sum = Int64(bitPattern: monotonicNs) &+ offsetNs
        return sum > 0 ? UInt64(sum) : 1
    }
}
