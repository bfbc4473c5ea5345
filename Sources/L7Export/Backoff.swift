/// Exponential backoff with jitter between retries of a failed export:
/// `initial`, then twice as long each time up to `maximum`, each delay
/// spread by ±`jitter` so that many tracers restarted together do not hit
/// a recovering collector in lockstep.
struct Backoff {
    var initial: Double
    var maximum: Double
    var multiplier = 2.0
    var jitter = 0.2
    /// Failures since the last success.
    private(set) var failures = 0

    init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// The wait before the next try; `random` is uniform in 0..<1.
    mutating func nextDelay(random: Double = Double.random(in: 0..<1)) -> Double {
        let exponent = Double(min(failures, 62))
        failures += 1
        let base = min(maximum, initial * pow2(exponent))
        return min(maximum, base * (1 - jitter + 2 * jitter * random))
    }

    mutating func reset() { failures = 0 }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) {
            value *= multiplier
            if value > 1e9 { break }
        }
        return value
    }
}
