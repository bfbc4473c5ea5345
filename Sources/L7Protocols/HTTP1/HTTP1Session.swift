import L7Events

/// HTTP/1.x on one connection: a parser per direction, the queue of
/// requests waiting for responses, and the stitcher that makes exchanges.
/// The parsers' sink is the session's `HTTP1MessageRouter` (a value, so a
/// call costs no reference counting): request events go to the queue,
/// response events to the stitcher, and the response parser learns from
/// the queue whether it frames the answer to a HEAD or a CONNECT; the
/// parsers never reach the stitcher.
///
/// While a connection is still being detected its HTTP/1 session runs in
/// `.detect` mode: the first start line found decides HTTP/1, anything
/// else `sawNotHTTP`.
final class HTTP1Session: ProtocolSession {
    private var egress: HTTP1Parser
    private var ingress: HTTP1Parser
    /// The parsers' sink, holding the request queue and the stitcher.
    private(set) var router: HTTP1MessageRouter
    var requests: HTTP1RequestQueue { router.requests }
    /// A direction's first bytes were not HTTP/1.
    var sawNotHTTP: Bool { router.sawNotHTTP }
    /// The connection switched protocols (101, or 2xx to CONNECT).
    var sawSwitch: Bool { router.sawSwitch }

    /// - Parameter seenFromStart: the connection's first bytes will be fed,
    ///   so they must be a message's first bytes (else the parsers resynchronise).
    init(connection: ConnectionInfo, seenFromStart: Bool, limits: TrackerLimits) {
        let mode: HTTP1Parser.SeekMode = seenFromStart ? .detect : .resync
        egress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        ingress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        router = HTTP1MessageRouter(requests: HTTP1RequestQueue(maxPending: limits.maxPendingRequests),
                                    stitcher: HTTP1Stitcher(connection: connection),
                                    requestPositionsExact: seenFromStart)
        connectionChanged(connection)
    }

    var bufferedBytes: Int { egress.bufferedBytes + ingress.bufferedBytes }
    var maxBufferedBytesPerDirection: Int { max(egress.bufferedBytes, ingress.bufferedBytes) }

    /// A start line was found in either direction.
    var hasSeenMessage: Bool { egress.hasSeenMessage || ingress.hasSeenMessage }
    /// Bytes passed over before the first start line, both directions (the detection budget).
    var skippedBeforeFirstMessage: Int { egress.skippedBeforeFirstMessage + ingress.skippedBeforeFirstMessage }

    /// The role the start lines show: who speaks first with a request line is the client.
    var roleFromStartLines: ConnectionRole {
        if let kind = egress.kind { return kind == .request ? .client : .server }
        if let kind = ingress.kind { return kind == .request ? .server : .client }
        return .unknown
    }

    /// One direction proved the connection is HTTP/1: a start line that does
    /// not parse in the other is now an error, not a verdict.
    func connectionIsHTTP() {
        egress.connectionIsHTTP()
        ingress.connectionIsHTTP()
    }

    /// The direction requests travel in, once the role is known.
    private var requestDirection: Direction? {
        switch router.stitcher.connection.role {
        case .client: return .egress
        case .server: return .ingress
        case .unknown: return nil
        }
    }

    func connectionChanged(_ info: ConnectionInfo) {
        router.stitcher.connection = info
        switch info.role {
        case .client: egress.expect(.request); ingress.expect(.response)
        case .server: egress.expect(.response); ingress.expect(.request)
        case .unknown: break
        }
    }

    // MARK: - Bytes

    func feed(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ placement: CallCursor.Placement,
              timing: CallTiming) {
        skipHole(direction, placement.leadingHole, timing: timing)
        feed(direction, bytes, timing: timing, startsCall: placement.startsCall)
        skipHole(direction, placement.trailingHole, timing: timing)
    }

    func feed(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, timing: CallTiming, startsCall: Bool) {
        switch direction {
        case .egress: egress.feed(bytes, timing: timing, startsCall: startsCall, sink: &router)
        case .ingress: ingress.feed(bytes, timing: timing, startsCall: startsCall, sink: &router)
        }
    }

    func skipHole(_ direction: Direction, _ count: Int, timing: CallTiming) {
        guard count > 0 else { return }
        if direction == requestDirection { router.requestPositionsExact = false }
        switch direction {
        case .egress: egress.skipHole(count, timing: timing, sink: &router)
        case .ingress: ingress.skipHole(count, timing: timing, sink: &router)
        }
    }

    func callEnded(_ direction: Direction) {
        switch direction {
        case .egress: egress.callEnded(sink: &router)
        case .ingress: ingress.callEnded(sink: &router)
        }
    }

    // MARK: - Ends

    func close() {
        // The request side first, so a request's body is complete before its response is judged.
        if ingress.kind == .request {
            ingress.finish(sink: &router)
            egress.finish(sink: &router)
        } else {
            egress.finish(sink: &router)
            ingress.finish(sink: &router)
        }
        router.closeOut()
    }

    func discard() { router.discard() }

    /// A request was lost before it reached us and is counted by the caller:
    /// its response, when it comes, is not an orphan.
    func requestLostUncounted() { router.requests.requestLostUncounted() }

    // MARK: - Buffers and draining

    @inline(__always)
    func borrow(_ spares: inout HTTP1SpareBuffers) {
        router.stitcher.borrow(&spares.ready)
        router.requests.borrow(&spares.pending)
    }

    @inline(__always)
    func giveBack(_ spares: inout HTTP1SpareBuffers) {
        router.stitcher.giveBack(&spares.ready)
        router.requests.giveBack(&spares.pending)
    }

    func drainStarted(_ body: (RequestStarted) -> Void) { router.drainStarted(body) }

    func drain(into stats: inout ProtocolStats, protocolStats: inout ProtocolStats, emit: (Exchange) -> Void) {
        router.drain(into: &stats, emit: emit)
    }
}
