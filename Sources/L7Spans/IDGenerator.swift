/// Source of trace and span ids. Implementations never return invalid
/// (all-zero) ids.
public protocol IDGenerator {
    mutating func nextTraceID() -> TraceID
    mutating func nextSpanID() -> SpanID
}

/// Fast pseudo-random ids: xoshiro256** seeded (through SplitMix64) from the
/// system's secure generator once, so producing an id costs no syscall.
///
/// Ids need to be unique and unpredictable enough for sampling, not secret.
public struct RandomIDGenerator: IDGenerator, RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeded from `SystemRandomNumberGenerator`.
    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: system.next())
    }

    /// Reproducible sequence, for tests and replays.
    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }  // the one state xoshiro cannot leave
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    public mutating func nextTraceID() -> TraceID {
        while true {
            let id = TraceID(high: next(), low: next())
            if id.isValid { return id }
        }
    }

    public mutating func nextSpanID() -> SpanID {
        while true {
            let id = SpanID(next())
            if id.isValid { return id }
        }
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Predictable ids for tests: trace ids `0…01`, `0…02`, … and span ids
/// 1, 2, … counted separately.
public struct SequentialIDGenerator: IDGenerator, Sendable {
    public private(set) var nextTrace: UInt64
    public private(set) var nextSpan: UInt64

    public init(firstTrace: UInt64 = 1, firstSpan: UInt64 = 1) {
        nextTrace = max(firstTrace, 1); nextSpan = max(firstSpan, 1)
    }

    public mutating func nextTraceID() -> TraceID {
        defer { nextTrace = nextTrace == .max ? 1 : nextTrace + 1 }
        return TraceID(high: 0, low: nextTrace)
    }

    public mutating func nextSpanID() -> SpanID {
        defer { nextSpan = nextSpan == .max ? 1 : nextSpan + 1 }
        return SpanID(nextSpan)
    }
}
