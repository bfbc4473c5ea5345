/// The tracer's own counters at one moment, gathered from every layer
/// (capture, protocols, export) by the command line, which alone sees them
/// all. Values are totals since start, except `queueDepth`.
public struct TelemetrySnapshot: Equatable, Sendable {
    public struct ProtocolCount: Equatable, Sendable {
        public var protocolName: String
        /// Why, for parse errors (`malformed`, `oversized`, `hole`…); empty for exchanges.
        public var reason: String
        public var count: UInt64

        public init(protocolName: String, reason: String = "", count: UInt64) {
            self.protocolName = protocolName; self.reason = reason; self.count = count
        }
    }

    /// Records the kernel wrote to the ring buffer.
    public var eventsReceived: UInt64 = 0
    /// Records that did not fit in the ring buffer, and the bytes their calls moved.
    public var eventsLost: UInt64 = 0
    public var bytesLost: UInt64 = 0
    public var exchanges: [ProtocolCount] = []
    public var parseErrors: [ProtocolCount] = []
    /// Requests seen (at least in part) that gave no span, by protocol and
    /// reason; with `exchanges` and `parseErrors` they account for every request.
    public var exchangesLost: [ProtocolCount] = []
    /// HTTP/2 header fields left out of a span because a header list was full.
    public var headerFieldsOmitted: UInt64 = 0
    /// HTTP/1 chunked bodies whose framing the capture missed: their spans
    /// have no body size.
    public var bodySizesUnknown: UInt64 = 0
    /// Connections forgotten to respect the connection limit.
    public var connectionsEvicted: UInt64 = 0
    /// TLS connections (handshake seen) whose plaintext no probe could read.
    public var tlsConnectionsUnreadable: UInt64 = 0
    /// What linking server spans to their client spans did, by outcome
    /// (`linked`, `hold_expired`, `inexact_position`…; `reason` names it).
    public var spanLinks: [ProtocolCount] = []
    public var export = ExportCounters()

    public init() {}

    /// The one-line summary logged every interval and at exit.
    public var logLine: String {
        var line = "l7trace: stats: events \(eventsReceived), lost \(eventsLost) events (\(bytesLost) bytes)"
        line += "; exchanges " + Self.list(exchanges)
        line += "; parse errors " + Self.list(parseErrors)
        line += "; exchanges lost " + Self.list(exchangesLost)
        if headerFieldsOmitted > 0 { line += "; header fields omitted \(headerFieldsOmitted)" }
        if bodySizesUnknown > 0 { line += "; body sizes unknown \(bodySizesUnknown)" }
        if connectionsEvicted > 0 { line += "; connections evicted \(connectionsEvicted)" }
        if tlsConnectionsUnreadable > 0 { line += "; unreadable TLS connections \(tlsConnectionsUnreadable)" }
        if spanLinks.contains(where: { $0.count > 0 }) {
            line += "; span links " + spanLinks.filter { $0.count > 0 }.map { "\($0.reason) \($0.count)" }.joined(separator: ", ")
        }
        line += "; spans exported \(export.spansExported), dropped \(export.spansDropped)"
        if export.spansDropped > 0 {
            line += " (queue full \(export.spansDroppedQueueFull), export failed \(export.spansDroppedExportFailed), "
                + "at shutdown \(export.spansDroppedAtShutdown))"
        }
        line += "; export failures \(export.exportFailures); queued \(export.queueDepth)"
        return line
    }

    private static func list(_ counts: [ProtocolCount]) -> String {
        let shown = counts.filter { $0.count > 0 }
        guard !shown.isEmpty else { return "0" }
        return shown.map { count in
            count.reason.isEmpty ? "\(count.protocolName) \(count.count)" : "\(count.protocolName)/\(count.reason) \(count.count)"
        }.joined(separator: ", ")
    }
}
