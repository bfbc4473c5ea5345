import L7Spans

/// What became of one export call; the batch processor decides from it
/// whether the spans are kept for another try.
public enum ExportResult: Equatable, Sendable {
    case success
    /// The collector could not take the spans now (down, overloaded, timed
    /// out); the same spans may be sent again later, not before `retryAfter`
    /// seconds when the collector said so (`Retry-After`, gRPC RetryInfo).
    case retryableFailure(String, retryAfter: Double? = nil)
    /// The collector refused the spans for good (bad request, unauthorised…);
    /// sending them again would fail the same way.
    case permanentFailure(String)
}

/// A destination for finished spans. `export` is called from one thread at a
/// time (the batch processor's) and may block up to its own timeout;
/// `shutdown` comes from another, so an exporter is Sendable.
public protocol SpanExporter: AnyObject, Sendable {
    func export(_ batches: [ResourceBatch]) -> ExportResult
    /// Releases the exporter's resources; no export follows.
    func shutdown()
}

/// Drops every span (`--exporter none`): tracing still runs, e.g. for its counters.
public final class NoopSpanExporter: SpanExporter {
    public init() {}
    public func export(_ batches: [ResourceBatch]) -> ExportResult { .success }
    public func shutdown() {}
}
