/// Bounds on the state the protocols layer keeps, so that hostile or simply
/// unusual traffic costs bounded memory.
public struct TrackerLimits: Sendable, Equatable {
    /// Connections tracked at once; beyond it the least recently used one is evicted.
    public var maxConnections: Int
    /// Bytes of one message head (start line + fields, or chunked trailers)
    /// kept while it is incomplete. A longer head drops that exchange.
    public var maxHeadBytes: Int
    /// Longest start line or chunk-size line considered while resynchronising.
    public var maxLineBytes: Int
    /// Requests waiting for their response on one connection (pipelining).
    /// Beyond it the oldest is dropped.
    public var maxPendingRequests: Int
    /// Bytes scanned on a connection seen mid-stream (role unknown), or of
    /// ciphertext without any OpenSSL data, before it is declared not HTTP.
    public var detectionScanBytes: Int

    public init(maxConnections: Int = 16_384, maxHeadBytes: Int = 64 * 1024, maxLineBytes: Int = 8 * 1024,
                maxPendingRequests: Int = 128, detectionScanBytes: Int = 256 * 1024) {
        self.maxConnections = max(1, maxConnections)
        self.maxHeadBytes = max(64, maxHeadBytes)
        self.maxLineBytes = max(64, min(maxLineBytes, self.maxHeadBytes))
        self.maxPendingRequests = max(1, maxPendingRequests)
        self.detectionScanBytes = max(64, detectionScanBytes)
    }
}
