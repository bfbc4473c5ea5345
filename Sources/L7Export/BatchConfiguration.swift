/// Settings of the batch span processor (the `OTEL_BSP_*` variables).
public struct BatchConfiguration: Equatable, Sendable {
    /// Longest a span waits before it is exported (`OTEL_BSP_SCHEDULE_DELAY`), seconds.
    public var scheduleDelay: Double = 5
    /// Longest one export may take (`OTEL_BSP_EXPORT_TIMEOUT`), seconds; 0 means no limit.
    public var exportTimeout: Double = 30
    /// Spans held at most; more are dropped and counted (`OTEL_BSP_MAX_QUEUE_SIZE`).
    public var maxQueueSize: Int = 2048
    /// Spans per export call; this many waiting triggers an export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    public var maxExportBatchSize: Int = 512
    /// A repeated warning (queue full, collector down) is logged at most once per this many seconds.
    public var warningInterval: Double = 10
    /// First wait before a failed batch is retried, seconds; it doubles per failure (with jitter).
    public var retryInitialBackoff: Double = 1
    /// Longest wait between retries, seconds.
    public var retryMaxBackoff: Double = 5
    /// Longest wait a collector may ask for (`Retry-After`, gRPC RetryInfo), seconds.
    public var retryMaxRequestedDelay: Double = 300

    public init() {}
}
