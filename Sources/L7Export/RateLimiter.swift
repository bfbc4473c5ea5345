import Glibc

/// Lets a repeated warning through at most once per interval, and counts
/// what it held back so the next warning can say how often it happened.
struct RateLimiter {
    let interval: Double
    private var lastAllowed: Double?
    /// Events suppressed since the last allowed one.
    private(set) var suppressed = 0

    init(interval: Double) { self.interval = interval }

    /// True when a warning may be logged now; resets the suppressed count.
    mutating func allow(now: Double = MonotonicSeconds.now()) -> Bool {
        if let lastAllowed, now - lastAllowed < interval {
            suppressed += 1
            return false
        }
        lastAllowed = now
        suppressed = 0
        return true
    }
}

enum MonotonicSeconds {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
