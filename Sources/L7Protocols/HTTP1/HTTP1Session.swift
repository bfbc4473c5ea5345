import L7Events

/// HTTP/1.x on one connection: a parser per direction, the queue of
/// requests waiting for responses, and the stitcher that makes exchanges.
/// It is the parsers' sink: what they find is routed here, request events
/// to the queue and response events to the stitcher. The response parser
/// asks the queue (through this sink) whether it frames the answer to a
/// HEAD or a CONNECT; the parsers never reach the stitcher.
///
/// While a connection is still being detected its HTTP/1 session runs in
/// `.detect` mode: the first start line found decides HTTP/1, anything
/// else `sawNotHTTP`.
final class HTTP1Session: ProtocolSession {
    private var egress: HTTP1Parser
    private var ingress: HTTP1Parser
    private(set) var requests: HTTP1RequestQueue
    private var stitcher: HTTP1Stitcher
    /// Bytes passed over between messages, since last drained.
    private var bytesSkipped = 0
    /// A direction's first bytes were not HTTP/1.
    private(set) var sawNotHTTP = false
    /// The connection switched protocols (101, or 2xx to CONNECT).
    private(set) var sawSwitch = false
    /// Whether the request direction was seen from the connection's start
    /// and lost nothing since (no hole, drop, overflow or lost sync): the
    /// requests' numbers are then those the other end gives them. Never
    /// set again once cleared.
    private(set) var requestPositionsExact: Bool
    /// Client requests whose heads were parsed since last drained.
    private var started: [RequestStarted] = []

    /// - Parameter seenFromStart: the connection's first bytes will be fed,
    ///   so they must be a message's first bytes (else the parsers resynchronise).
    init(connection: ConnectionInfo, seenFromStart: Bool, limits: TrackerLimits) {
        let mode: HTTP1Parser.SeekMode = seenFromStart ? .detect : .resync
        requestPositionsExact = seenFromStart
        egress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        ingress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        requests = HTTP1RequestQueue(maxPending: limits.maxPendingRequests)
        stitcher = HTTP1Stitcher(connection: connection)
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
        switch stitcher.connection.role {
        case .client: return .egress
        case .server: return .ingress
        case .unknown: return nil
        }
    }

    func connectionChanged(_ info: ConnectionInfo) {
        stitcher.connection = info
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
        var sink = self
        switch direction {
        case .egress: egress.feed(bytes, timing: timing, startsCall: startsCall, sink: &sink)
        case .ingress: ingress.feed(bytes, timing: timing, startsCall: startsCall, sink: &sink)
        }
    }

    func skipHole(_ direction: Direction, _ count: Int, timing: CallTiming) {
        guard count > 0 else { return }
        if direction == requestDirection { requestPositionsExact = false }
        var sink = self
        switch direction {
        case .egress: egress.skipHole(count, timing: timing, sink: &sink)
        case .ingress: ingress.skipHole(count, timing: timing, sink: &sink)
        }
    }

    func callEnded(_ direction: Direction) {
        var sink = self
        switch direction {
        case .egress: egress.callEnded(sink: &sink)
        case .ingress: ingress.callEnded(sink: &sink)
        }
    }

    // MARK: - Ends

    func close() {
        var sink = self
        // The request side first, so a request's body is complete before its response is judged.
        if ingress.kind == .request {
            ingress.finish(sink: &sink)
            egress.finish(sink: &sink)
        } else {
            egress.finish(sink: &sink)
            ingress.finish(sink: &sink)
        }
        stitcher.abandonResponse()
        requests.takeUnanswered { stitcher.unanswered($0) }
    }

    func discard() {
        stitcher.abandonResponse()
        requests.discard()
    }

    /// A request was lost before it reached us and is counted by the caller:
    /// its response, when it comes, is not an orphan.
    func requestLostUncounted() { requests.requestLostUncounted() }

    // MARK: - Buffers and draining

    func borrow(_ spares: inout HTTP1SpareBuffers) {
        stitcher.borrow(&spares.ready)
        requests.borrow(&spares.pending)
    }

    func giveBack(_ spares: inout HTTP1SpareBuffers) {
        stitcher.giveBack(&spares.ready)
        requests.giveBack(&spares.pending)
    }

    func drainStarted(_ body: (RequestStarted) -> Void) {
        guard !started.isEmpty else { return }
        for request in started { body(request) }
        started.removeAll(keepingCapacity: started.capacity <= 16)
    }

    func drain(into stats: inout ProtocolStats, protocolStats: inout ProtocolStats, emit: (Exchange) -> Void) {
        if !stitcher.ready.isEmpty {
            // Taken out of the stitcher and popped one by one (reversed
            // first, to keep their order), so each exchange is moved to
            // `emit`, never copied.
            var ready: [Exchange] = []
            swap(&ready, &stitcher.ready)
            ready.reverse()
            while let exchange = ready.popLast() { emit(exchange) }
            if ready.capacity <= 16 {
                ready.removeAll(keepingCapacity: true)
                swap(&ready, &stitcher.ready)
            }
        }
        if stitcher.stats != ProtocolStats() {
            stats.add(stitcher.stats)
            stitcher.stats = ProtocolStats()
        }
        if requests.losses != HTTP1RequestQueue.Losses() {
            stats.pipelineOverflows += requests.losses.pipelineOverflows
            stats.orphanResponses += requests.losses.orphanResponses
            stats.droppedExchanges += requests.losses.droppedExchanges
            requests.losses = HTTP1RequestQueue.Losses()
        }
        if bytesSkipped > 0 {
            stats.bytesSkipped += bytesSkipped
            bytesSkipped = 0
        }
    }
}

// MARK: - The parsers' sink

extension HTTP1Session: HTTP1ParserSink {
    func requestBegan(_ head: consuming HTTPRequestHead, timing: MessageTiming) {
        let exact = requestPositionsExact
        let isClient = stitcher.connection.role == .client
        // Read before the head moves into the queue; a String only on a client, when the header is there.
        let traceparent = isClient && head.headers.notable.contains(.traceparent) ? Self.singleTraceparent(head.headers) : nil
        requests.requestBegan(head, timing: timing, exact: exact)
        guard let sequence = requests.inProgress else {
            requestPositionsExact = false  // overflowed: counted, but not worth linking after
            return
        }
        if isClient {
            started.append(RequestStarted(connection: stitcher.connection,
                                          position: .http1(sequence: sequence, exact: exact),
                                          timing: timing, traceparent: traceparent))
        }
    }

    private static func singleTraceparent(_ headers: HTTPHeaders) -> String? {
        let values = headers.values("traceparent")
        return values.count == 1 ? values[0] : nil
    }

    func responseBegan(_ head: consuming HTTPResponseHead, timing: MessageTiming) -> HTTP1RequestContext {
        let request = requests.takePartner(for: timing)
        let context = request?.context ?? .ordinary
        stitcher.responseBegan(head, answering: request)
        return context
    }

    func messageCompleted(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        switch kind {
        case .request:
            updateRequestInProgress { $0.bodySize = bodySize; $0.timing = timing }
            requests.inProgress = nil
        case .response:
            endResponse(bodySize: bodySize, timing: timing, failure: nil)
        }
    }

    func framingLost(_ kind: HTTP1StartLine.Kind, bodySize: Int?) {
        if bodySize == nil { stitcher.stats.bodiesOfUnknownSize += 1 }
        switch kind {
        case .request:
            requestPositionsExact = false
            // The response may complete before the end of this request is found.
            updateRequestInProgress { $0.bodySize = bodySize ?? 0; $0.bodySizeKnown = bodySize != nil }
        case .response:
            if bodySize == nil { stitcher.responseBodySizeLost() }
        }
    }

    func messageIncomplete(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        switch kind {
        case .request:
            updateRequestInProgress { $0.bodySize = bodySize; $0.timing = timing }
        case .response:
            endResponse(bodySize: bodySize, timing: timing, failure: .responseIncomplete)
        }
    }

    func messageDropped(_ kind: HTTP1StartLine.Kind, reason: HTTP1DropReason, headReported: Bool,
                        timing: MessageTiming) {
        if kind == .request { requestPositionsExact = false }
        switch (kind, headReported) {
        case (.response, false):
            // A response we could not read still answers a request. Its loss
            // is counted here only when that request's was not counted yet
            // (a dropped request's placeholder was counted then; no partner
            // is counted as an orphan by the queue).
            guard let partner = requests.takePartner(for: timing), partner.head != nil else { return }
            stitcher.countDrop(reason)
        case (.response, true):
            // The exchange is lost, counted under the response's reason.
            stitcher.countDrop(reason)
            stitcher.responseDropped()
        case (.request, true):
            stitcher.countDrop(reason)
            if let sequence = requests.inProgress {
                if !requests.update(sequence, { $0.head = nil }) { stitcher.forgetAnsweredRequestHead(sequence) }
            }
            requests.inProgress = nil
        case (.request, false):
            stitcher.countDrop(reason)
            requests.requestDropped(timing: timing)
        }
    }

    func lostSync(_ kind: HTTP1StartLine.Kind?, unexpectedBytes: Bool) {
        if unexpectedBytes { stitcher.stats.malformedMessages += 1 }
        // A hole between messages may have swallowed whole requests.
        if kind != .response { requestPositionsExact = false }
        // A lost request is caught by rule 2; lost responses need rule 3.
        if kind != .request { requests.responsesLostSync() }
    }

    func skipped(_ count: Int) { bytesSkipped += count }

    func notHTTP() { sawNotHTTP = true }

    func switchedProtocols() { sawSwitch = true }

    private func updateRequestInProgress(_ change: (inout HTTP1RequestQueue.PendingRequest) -> Void) {
        guard let sequence = requests.inProgress else { return }
        if !requests.update(sequence, change) { stitcher.updateAnsweredRequest(sequence, change) }
    }

    private func endResponse(bodySize: Int, timing: MessageTiming, failure: ExchangeFailure?) {
        let answered = stitcher.responseEnded(bodySize: bodySize, timing: timing, failure: failure)
        if let answered, requests.inProgress == answered { requests.inProgress = nil }
    }
}
