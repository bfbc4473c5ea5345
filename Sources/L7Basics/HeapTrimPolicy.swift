/// When to give the heap's freed pages back to the kernel: the decision of
/// the tracer's heap trimmer, without the /proc reading, so it can be tested.
///
/// `slack` is anonymous resident memory not in use by malloc's callers. A
/// trim is worth it when the slack grew well over the lowest level seen (a
/// burst let go of its memory), when the pipeline holds spare capacity, or
/// when a smaller growth stayed after the heap went quiet: a trim that ran
/// while 20,000 connections were still closing left the rest (~5 MB,
/// under the burst threshold) resident for good, which CI caught.
public struct HeapTrimPolicy: Sendable {
    /// Growth worth a trim at once (4% of an idle tracer's RSS).
    public static let burstSlack = 2 << 20
    /// Growth worth a trim once no trim ran for `settleNs`.
    public static let settledSlack = 512 << 10
    public static let settleNs: UInt64 = 5_000_000_000

    /// The lowest slack seen since the last trim: what thread stacks, the
    /// runtime and unreleasable fragments hold anyway.
    private var baseline: Int?
    private var lastTrimNs: UInt64 = 0

    public init() {}

    public mutating func shouldTrim(slack: Int, spareCapacity: Bool, nowNs: UInt64) -> Bool {
        guard let baseline else { return true } // start-up left a few MB freed
        if spareCapacity { return true }
        guard slack >= baseline else {
            self.baseline = slack
            return false
        }
        let grown = slack - baseline
        if grown > Self.burstSlack { return true }
        return grown > Self.settledSlack && nowNs &- lastTrimNs >= Self.settleNs
    }

    /// Call after a trim: what it could not release is not tried again.
    public mutating func trimmed(slackAfter: Int, nowNs: UInt64) {
        baseline = slackAfter
        lastTrimNs = nowNs
    }
}
