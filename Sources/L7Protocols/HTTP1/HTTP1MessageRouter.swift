import L7Events

/// The sink of an HTTP/1 session's two parsers: request events go to the
/// queue of requests waiting for responses, response events to the
/// stitcher, and a response head is answered with the framing its
/// request's method asks for. Counters and exchanges wait here until the
/// session is drained.
struct HTTP1MessageRouter: HTTP1ParserSink {
    var requests: HTTP1RequestQueue
    var stitcher: HTTP1Stitcher
    /// Bytes passed over between messages, since last drained.
    var bytesSkipped = 0
    /// A direction's first bytes were not HTTP/1.
    private(set) var sawNotHTTP = false
    /// The connection switched protocols (101, or 2xx to CONNECT).
    private(set) var sawSwitch = false
    /// Whether the request direction was seen from the connection's start
    /// and lost nothing since (no hole, drop, overflow or lost sync): the
    /// requests' numbers are then those the other end gives them. Never
    /// set again once cleared.
    var requestPositionsExact: Bool
    /// Requests (client and server) whose heads were parsed since last
    /// drained, without their connection (added when drained). The first
    /// inline (one start per drain is the rule: no array to allocate or
    /// clear per request), later ones (pipelining) after it.
    private var firstStarted: PendingStart?
    private var moreStarted: [PendingStart] = []

    private struct PendingStart {
        var position: RequestPosition
        var timing: MessageTiming
        var traceparent: String?
    }

    init(requests: HTTP1RequestQueue, stitcher: HTTP1Stitcher, requestPositionsExact: Bool) {
        self.requests = requests
        self.stitcher = stitcher
        self.requestPositionsExact = requestPositionsExact
    }

    mutating func requestBegan(_ head: consuming HTTPRequestHead, timing: MessageTiming) {
        let exact = requestPositionsExact
        // Both ends: a client's request fixes its span's ids; a server's tells
        // the linker which thread serves what (calls made meanwhile).
        let linked = stitcher.connection.role != .unknown
        // Read before the head moves into the queue; a String only when the header is there.
        let traceparent = linked && head.headers.notable.contains(.traceparent)
            ? head.headers.singleValue("traceparent") : nil
        requests.requestBegan(consume head, timing: timing, exact: exact)
        guard let sequence = requests.inProgress else {
            requestPositionsExact = false  // overflowed: counted, but not worth linking after
            return
        }
        if linked {
            let start = PendingStart(position: .http1(sequence: sequence, exact: exact), timing: timing,
                                     traceparent: traceparent)
            if firstStarted == nil { firstStarted = start } else { moreStarted.append(start) }
        }
    }


    mutating func responseBegan(_ head: consuming HTTPResponseHead, timing: MessageTiming) -> HTTP1RequestContext {
        let request = requests.takePartner(for: timing)
        let context = request?.context ?? .ordinary
        // Moved, not copied: a copy of a request retains each of its buffers.
        stitcher.responseBegan(consume head, answering: consume request)
        return context
    }

    mutating func messageCompleted(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        switch kind {
        case .request:
            updateRequestInProgress { $0.bodySize = bodySize; $0.timing = timing }
            requests.inProgress = nil
        case .response:
            endResponse(bodySize: bodySize, timing: timing, failure: nil)
        }
    }

    mutating func framingLost(_ kind: HTTP1StartLine.Kind, bodySize: Int?) {
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

    mutating func messageIncomplete(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        switch kind {
        case .request:
            updateRequestInProgress { $0.bodySize = bodySize; $0.timing = timing }
        case .response:
            endResponse(bodySize: bodySize, timing: timing, failure: .responseIncomplete)
        }
    }

    mutating func messageDropped(_ kind: HTTP1StartLine.Kind, reason: HTTP1DropReason, headReported: Bool,
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
            updateRequestInProgress { $0.head = nil }
            requests.inProgress = nil
        case (.request, false):
            stitcher.countDrop(reason)
            requests.requestDropped(timing: timing)
        }
    }

    mutating func lostSync(_ kind: HTTP1StartLine.Kind?, unexpectedBytes: Bool) {
        if unexpectedBytes { stitcher.stats.malformedMessages += 1 }
        // A hole between messages may have swallowed whole requests.
        if kind != .response { requestPositionsExact = false }
        // A lost request is caught by rule 2; lost responses need rule 3.
        if kind != .request { requests.responsesLostSync() }
    }

    mutating func skipped(_ count: Int) { bytesSkipped += count }

    mutating func notHTTP() { sawNotHTTP = true }

    mutating func switchedProtocols() { sawSwitch = true }

    private mutating func updateRequestInProgress(_ change: (inout HTTP1RequestQueue.PendingRequest) -> Void) {
        guard let sequence = requests.inProgress else { return }
        if !requests.update(sequence, change) { stitcher.updateAnsweredRequest(sequence, change) }
    }

    private mutating func endResponse(bodySize: Int, timing: MessageTiming, failure: ExchangeFailure?) {
        let answered = stitcher.responseEnded(bodySize: bodySize, timing: timing, failure: failure)
        if let answered, requests.inProgress == answered { requests.inProgress = nil }
    }

    // MARK: - Ends and draining

    /// The connection closed (after the parsers finished): a response in
    /// flight is lost, requests still waiting are reported unanswered.
    mutating func closeOut() {
        stitcher.abandonResponse()
        requests.takeUnanswered { stitcher.unanswered($0) }
    }

    /// Forgets what waits (eviction, a change of protocol), counting it lost.
    mutating func discard() {
        stitcher.abandonResponse()
        requests.discard()
    }

    mutating func drainStarted(_ body: (RequestStarted) -> Void) {
        guard let first = firstStarted.take() else { return }
        body(RequestStarted(connection: stitcher.connection, position: first.position, timing: first.timing,
                            traceparent: first.traceparent))
        guard !moreStarted.isEmpty else { return }
        for request in moreStarted {
            body(RequestStarted(connection: stitcher.connection, position: request.position, timing: request.timing,
                                traceparent: request.traceparent))
        }
        moreStarted.removeAll(keepingCapacity: moreStarted.capacity <= 16)
    }

    mutating func drain(into stats: inout ProtocolStats, emit: (Exchange) -> Void) {
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
