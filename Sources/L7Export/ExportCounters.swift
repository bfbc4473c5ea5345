/// What the batch processor did with the spans it was given, for the
/// tracer's loss report.
public struct ExportCounters: Equatable, Sendable {
    /// Spans the exporter accepted.
    public var spansExported: UInt64 = 0
    /// Spans refused by `add` because the queue was full.
    public var spansDroppedQueueFull: UInt64 = 0
    /// Spans of batches that failed for good, or could not be re-queued for a retry.
    public var spansDroppedExportFailed: UInt64 = 0
    /// Spans still queued when shutdown gave up on them.
    public var spansDroppedAtShutdown: UInt64 = 0
    /// Export calls that did not succeed (retryable or not).
    public var exportFailures: UInt64 = 0
    /// Spans waiting in the queue right now, the batch being exported included.
    public var queueDepth: Int = 0

    public init() {}

    public var spansDropped: UInt64 { spansDroppedQueueFull + spansDroppedExportFailed + spansDroppedAtShutdown }
}
