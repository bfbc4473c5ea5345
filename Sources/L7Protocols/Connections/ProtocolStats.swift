/// Counters of the protocols layer. Every exchange that could not be
/// reported is counted here, under the reason it was lost.
public struct ProtocolStats: Sendable, Equatable {
    /// Exchanges emitted (with or without a response).
    public var exchanges = 0
    /// Exchanges that were seen at least in part but not emitted: the
    /// partner of a dropped message, a request left behind by pipelining
    /// limits, a connection evicted with requests pending.
    public var droppedExchanges = 0
    /// Messages dropped because a hole (bytes the kernel did not capture)
    /// fell in their head or chunked framing.
    public var holesInHeaders = 0
    /// Chunked bodies whose framing fell (in part) in a hole: their
    /// messages are reported, without a body size.
    public var bodiesOfUnknownSize = 0
    /// Messages dropped because their head or framing was invalid.
    public var malformedMessages = 0
    /// Messages dropped because their head exceeded `TrackerLimits.maxHeadBytes`.
    public var oversizedHeads = 0
    /// Requests dropped on arrival because `TrackerLimits.maxPendingRequests`
    /// requests were already waiting for responses (pipelining).
    public var pipelineOverflows = 0
    /// HTTP/2 streams the server never processed (above a GOAWAY's last
    /// stream id): no server span, since the server did not handle them.
    public var refusedStreams = 0
    /// HTTP/2 header fields decoded but not kept: the header list of a
    /// stream or connection was full (a hostile or broken peer).
    public var headerFieldsOmitted = 0
    /// Responses with no request to pair with (the request was never seen).
    public var orphanResponses = 0
    /// Connections that got state in the tracker.
    public var connectionsTracked = 0
    /// Connections evicted to respect `TrackerLimits.maxConnections`.
    public var connectionsEvicted = 0
    /// Connections found not to carry HTTP (reported through `onIgnore`).
    public var connectionsIgnored = 0
    /// Connections that switched protocols (101 Upgrade, CONNECT tunnel).
    public var tunnels = 0
    /// Connections detected as HTTP/2 (parsed by a later layer).
    public var http2Connections = 0
    /// Bytes of HTTP connections passed over without being part of a
    /// message: garbage, resynchronisation, data of ignored connections.
    public var bytesSkipped = 0
    /// Syscall bytes of TLS connections (ciphertext), never parsed.
    public var ciphertextBytesIgnored = 0
    /// TLS connections whose handshake was seen and whose application data
    /// no probe gave the plaintext of (a TLS stack l7trace cannot read).
    public var tlsConnectionsUnreadable = 0
    /// Requests on a TLS connection older than the tracer that were read by
    /// an SSL_read already under way when the probes attached: the entry
    /// was never seen, so the plaintext cannot be had.
    public var tlsInFlightAtStart = 0

    public init() {}

    /// These counters without `part`'s (one protocol's share of the total).
    public func excluding(_ part: ProtocolStats) -> ProtocolStats {
        var rest = self
        rest.exchanges -= part.exchanges; rest.droppedExchanges -= part.droppedExchanges
        rest.holesInHeaders -= part.holesInHeaders; rest.malformedMessages -= part.malformedMessages
        rest.oversizedHeads -= part.oversizedHeads; rest.headerFieldsOmitted -= part.headerFieldsOmitted
        rest.pipelineOverflows -= part.pipelineOverflows; rest.refusedStreams -= part.refusedStreams
        rest.orphanResponses -= part.orphanResponses
        rest.connectionsTracked -= part.connectionsTracked; rest.connectionsEvicted -= part.connectionsEvicted
        rest.connectionsIgnored -= part.connectionsIgnored; rest.tunnels -= part.tunnels
        rest.http2Connections -= part.http2Connections; rest.bytesSkipped -= part.bytesSkipped
        rest.ciphertextBytesIgnored -= part.ciphertextBytesIgnored
        rest.bodiesOfUnknownSize -= part.bodiesOfUnknownSize
        rest.tlsConnectionsUnreadable -= part.tlsConnectionsUnreadable
        rest.tlsInFlightAtStart -= part.tlsInFlightAtStart
        return rest
    }

    mutating func add(_ o: ProtocolStats) {
        exchanges += o.exchanges; droppedExchanges += o.droppedExchanges
        holesInHeaders += o.holesInHeaders; malformedMessages += o.malformedMessages
        oversizedHeads += o.oversizedHeads; headerFieldsOmitted += o.headerFieldsOmitted
        pipelineOverflows += o.pipelineOverflows; refusedStreams += o.refusedStreams
        orphanResponses += o.orphanResponses
        connectionsTracked += o.connectionsTracked; connectionsEvicted += o.connectionsEvicted
        connectionsIgnored += o.connectionsIgnored; tunnels += o.tunnels
        http2Connections += o.http2Connections; bytesSkipped += o.bytesSkipped
        ciphertextBytesIgnored += o.ciphertextBytesIgnored
        bodiesOfUnknownSize += o.bodiesOfUnknownSize
        tlsConnectionsUnreadable += o.tlsConnectionsUnreadable
        tlsInFlightAtStart += o.tlsInFlightAtStart
    }
}
