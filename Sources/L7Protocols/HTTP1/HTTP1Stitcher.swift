/// Pairs the requests of one connection with its responses, in order
/// (HTTP/1.1 answers in request order, pipelined or not).
///
/// Pairing rules, when the capture is not perfect:
/// 1. A message whose start was seen but which was dropped (hole in its
///    head or chunked framing, malformed, oversized) keeps its place in the
///    order as a placeholder; its partner is dropped with it, so later
///    pairs stay aligned.
/// 2. A response never pairs with a request that began after the response
///    began: such a response answers a request the capture missed, and is
///    counted as an orphan.
/// 3. When the response direction lost its place between messages (a hole
///    of unknown extent may have swallowed whole responses), the next
///    response pairs with the *newest* request that began before it, and
///    older waiting requests are dropped (counted): their responses were
///    lost. Without pipelining this is exact; with pipelining it may pair
///    one exchange wrongly rather than shift every later pair.
/// 4. The requests rule 3 passed over were counted lost then; responses of
///    theirs that arrive after all (they were not in the hole) find no
///    request and are not counted again: each exchange counts once.
struct HTTP1Stitcher: HTTP1ParserSink {
    struct PendingRequest {
        /// nil: a placeholder for a request that was seen but dropped (its
        /// loss counted then, under its reason: each lost exchange counts once).
        var head: HTTPRequestHead?
        var timing: MessageTiming
        var bodySize = 0
        /// false: a hole fell in the body's chunked framing.
        var bodySizeKnown = true
        var sequence: UInt64
        /// More than 0: a placeholder for that many requests that came while
        /// the queue was full, dropped on arrival (and counted then). Only
        /// their number is kept, so responses still pair in order.
        var overflowRun = 0
    }

    struct BoundResponse {
        /// nil: an orphan, parsed only to find where it ends.
        var request: PendingRequest?
        var head: HTTPResponseHead
        var bodySizeKnown = true
    }

    var connection: ConnectionInfo
    private let maxPending: Int
    /// Requests waiting for their responses, from `pendingStart` on; the buffer is lent (`HTTP1SpareBuffers`).
    private var pending: [PendingRequest] = []
    private var pendingStart = 0
    private var nextSequence: UInt64 = 0
    /// The request whose body is being parsed.
    private var requestInProgress: UInt64?
    private var response: BoundResponse?
    private var responsesUncertain = false
    /// Requests passed over by rule 3 (already counted) whose responses may still come (rule 4).
    private var passedOver = 0

    /// Exchanges completed since the owner last drained them; the buffer is lent (`HTTP1SpareBuffers`).
    var ready: [Exchange] = []
    /// Counters since the owner last collected them.
    var stats = ProtocolStats()
    private(set) var sawNotHTTP = false
    private(set) var sawSwitch = false

    init(connection: ConnectionInfo, maxPending: Int) {
        self.connection = connection
        self.maxPending = maxPending
    }

    var pendingCount: Int { pending.count - pendingStart }
    /// Request heads held while waiting for responses (bounded by `maxPending`).
    var pendingHeads: Int { pending[pendingStart...].reduce(0) { $0 + ($1.head == nil ? 0 : 1) } }
    /// Entries of the queue's buffer, waiting or not yet compacted away.
    var pendingEntries: Int { pending.count }

    // MARK: - Buffers

    /// Takes the spares for the queues that have no buffer.
    mutating func borrow(_ spares: inout HTTP1SpareBuffers) {
        if ready.capacity == 0 { swap(&ready, &spares.ready) }
        if pending.isEmpty && pending.capacity == 0 { swap(&pending, &spares.pending) }
    }

    /// Gives back (or frees) the buffers of the queues that are empty.
    mutating func giveBack(_ spares: inout HTTP1SpareBuffers) {
        if ready.isEmpty && ready.capacity > 0 {
            if spares.ready.capacity == 0 && ready.capacity <= 16 { swap(&ready, &spares.ready) } else { ready = [] }
        }
        if pending.isEmpty && pending.capacity > 0 {
            if spares.pending.capacity == 0 && pending.capacity <= 64 { swap(&pending, &spares.pending) } else { pending = [] }
        }
    }

    // MARK: - Requests

    mutating func requestBegan(_ head: consuming HTTPRequestHead, timing: MessageTiming) {
        requestInProgress = enqueue(head, timing: timing)
    }

    /// Queues a request (nil head: a placeholder); nil when the queue was full and it was dropped.
    private mutating func enqueue(_ head: consuming HTTPRequestHead?, timing: MessageTiming) -> UInt64? {
        let sequence = nextSequence
        nextSequence += 1
        guard pendingCount < maxPending else {
            // Bounded memory: the newest request is dropped, not the oldest,
            // so the responses on their way still find their requests.
            stats.pipelineOverflows += 1
            if pending.count > pendingStart, pending[pending.count - 1].overflowRun > 0 {
                pending[pending.count - 1].overflowRun += 1
            } else {
                pending.append(PendingRequest(head: nil, timing: timing, sequence: sequence, overflowRun: 1))
            }
            return nil
        }
        pending.append(PendingRequest(head: head, timing: timing, sequence: sequence))
        return sequence
    }

    /// Applies `change` to the request with `sequence`, waiting or bound to the response in flight.
    private mutating func updateRequest(_ sequence: UInt64, _ change: (inout PendingRequest) -> Void) {
        // From the newest: the request being updated is nearly always the last one queued.
        var index = pending.count - 1
        while index >= pendingStart {
            if pending[index].sequence == sequence {
                change(&pending[index])
                return
            }
            if pending[index].sequence < sequence { break }
            index -= 1
        }
        if response?.request?.sequence == sequence {
            change(&response!.request!)
        }
    }

    /// Requests in `range` not yet counted as lost (placeholders were counted when dropped).
    private func uncountedRequests(_ range: Range<Int>) -> Int {
        var n = 0
        for i in range where pending[i].head != nil { n += 1 }
        return n
    }

    // MARK: - Responses

    mutating func responseBegan(_ head: consuming HTTPResponseHead, timing: MessageTiming) -> HTTP1RequestContext {
        let request = takePartner(for: timing)
        let context: HTTP1RequestContext
        switch request?.head?.method {
        case "HEAD"?: context = .head
        case "CONNECT"?: context = .connect
        default: context = .ordinary
        }
        response = BoundResponse(request: consume request, head: head)
        return context
    }

    /// Removes and returns the request a response that began at `timing` answers.
    private mutating func takePartner(for timing: MessageTiming) -> PendingRequest? {
        // Read in place by index: a request passed to a closure would be copied.
        func began(_ index: Int) -> Bool { pending[index].timing.firstEnterNs <= timing.firstExitNs }
        var chosen: Int?
        if responsesUncertain {
            chosen = (pendingStart..<pending.count).last(where: began)
        } else if pendingStart < pending.count, began(pendingStart) {
            chosen = pendingStart
        }
        guard let chosen else {
            if passedOver > 0 { passedOver -= 1 } else { stats.orphanResponses += 1 }
            return nil
        }
        // Requests older than the partner lost their responses.
        stats.droppedExchanges += uncountedRequests(pendingStart..<chosen)
        for index in pendingStart..<chosen { passedOver += max(pending[index].overflowRun, 1) }
        if pending[chosen].overflowRun > 1 {
            // One of a run of dropped requests: the run stays for the others.
            pending[chosen].overflowRun -= 1
            pendingStart = chosen
            responsesUncertain = false
            return PendingRequest(head: nil, timing: pending[chosen].timing, sequence: pending[chosen].sequence,
                                  overflowRun: 1)
        }
        // Moved out, leaving an empty entry behind, so the head is not copied.
        var partner = PendingRequest(head: nil, timing: pending[chosen].timing, sequence: pending[chosen].sequence)
        swap(&partner, &pending[chosen])
        pendingStart = chosen + 1
        compact()
        responsesUncertain = false
        return partner
    }

    private mutating func compact() {
        if pendingStart == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= 64)
            pendingStart = 0
        } else if pendingStart >= 32 && pendingStart * 2 >= pending.count {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
    }

    private mutating func finishResponse(bodySize: Int, timing: MessageTiming, failure: ExchangeFailure?) {
        // Moved out (not copied) so the heads pass into the exchange without reference counting.
        var taken: BoundResponse?
        swap(&taken, &response)
        guard var bound = taken.take() else { return }
        guard var request = bound.request.take() else { return }  // orphan, already counted
        guard let requestHead = request.head.take() else { return }  // a placeholder, counted when dropped
        if requestInProgress == request.sequence { requestInProgress = nil }
        var exchange = Exchange(connection: connection, request: requestHead, response: bound.head,
                                requestBodySize: request.bodySize, responseBodySize: bodySize,
                                requestTiming: request.timing, responseTiming: timing, failure: failure)
        if !request.bodySizeKnown { exchange.undecoded.insert(.requestBodySize) }
        if !bound.bodySizeKnown { exchange.undecoded.insert(.responseBodySize) }
        ready.append(consume exchange)
        stats.exchanges += 1
    }

    // MARK: - Sink

    mutating func messageCompleted(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        switch kind {
        case .request:
            if let sequence = requestInProgress {
                updateRequest(sequence) { $0.bodySize = bodySize; $0.timing = timing }
            }
            requestInProgress = nil
        case .response:
            finishResponse(bodySize: bodySize, timing: timing, failure: nil)
        }
    }

    mutating func framingLost(_ kind: HTTP1StartLine.Kind, bodySize: Int?) {
        if bodySize == nil { stats.bodiesOfUnknownSize += 1 }
        switch kind {
        case .request:
            // The response may complete before the end of this request is found.
            if let sequence = requestInProgress {
                updateRequest(sequence) { $0.bodySize = bodySize ?? 0; $0.bodySizeKnown = bodySize != nil }
            }
        case .response:
            if bodySize == nil { response?.bodySizeKnown = false }
        }
    }

    mutating func messageIncomplete(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        switch kind {
        case .request:
            if let sequence = requestInProgress {
                updateRequest(sequence) { $0.bodySize = bodySize; $0.timing = timing }
            }
        case .response:
            finishResponse(bodySize: bodySize, timing: timing, failure: .responseIncomplete)
        }
    }

    mutating func messageDropped(_ kind: HTTP1StartLine.Kind, reason: HTTP1DropReason, headReported: Bool,
                                 timing: MessageTiming) {
        if kind == .response && !headReported {
            // A response we could not read still answers a request. Its loss
            // is counted here only when that request's was not counted yet
            // (a dropped request's placeholder was counted then; no partner
            // is counted as an orphan by takePartner).
            guard let partner = takePartner(for: timing), partner.head != nil else { return }
            countDrop(reason)
            return
        }
        countDrop(reason)
        switch (kind, headReported) {
        case (.request, true):
            if let sequence = requestInProgress { updateRequest(sequence) { $0.head = nil } }
            requestInProgress = nil
        case (.request, false):
            _ = enqueue(nil, timing: timing)
        case (.response, true):
            // The exchange is lost, counted above under the response's reason.
            response = nil
        case (.response, false):
            break // above
        }
    }

    private mutating func countDrop(_ reason: HTTP1DropReason) {
        switch reason {
        case .hole: stats.holesInHeaders += 1
        case .malformed: stats.malformedMessages += 1
        case .oversized: stats.oversizedHeads += 1
        }
    }

    mutating func lostSync(_ kind: HTTP1StartLine.Kind?, unexpectedBytes: Bool) {
        if unexpectedBytes { stats.malformedMessages += 1 }
        // A lost request is caught by rule 2; lost responses need rule 3.
        if kind != .request { responsesUncertain = true }
    }

    mutating func skipped(_ count: Int) { stats.bytesSkipped += count }

    mutating func notHTTP() { sawNotHTTP = true }

    mutating func switchedProtocols() { sawSwitch = true }

    // MARK: - Closing

    /// The connection is gone: requests still waiting never got a response.
    mutating func flush() {
        if let bound = response {
            response = nil
            if bound.request?.head != nil { stats.droppedExchanges += 1 }
        }
        for request in pending[pendingStart...] {
            guard let head = request.head else { continue }  // counted when dropped
            var exchange = Exchange(connection: connection, request: head, response: nil,
                                    requestBodySize: request.bodySize, responseBodySize: 0,
                                    requestTiming: request.timing, responseTiming: nil, failure: .connectionClosed)
            if !request.bodySizeKnown { exchange.undecoded.insert(.requestBodySize) }
            ready.append(exchange)
            stats.exchanges += 1
        }
        pending.removeAll()
        pendingStart = 0
        requestInProgress = nil
    }

    /// Parsing starts over (plaintext replaces ciphertext): what was
    /// pending is dropped and earlier verdicts no longer hold.
    mutating func restart() {
        discard()
        sawNotHTTP = false
        sawSwitch = false
        responsesUncertain = false
        passedOver = 0
    }

    /// A request was lost before it reached us and is counted by the caller:
    /// its response, when it comes, is not counted as an orphan.
    mutating func requestLostUncounted() { passedOver += 1 }

    /// The connection is forgotten (evicted): nothing more is emitted.
    mutating func discard() {
        stats.droppedExchanges += uncountedRequests(pendingStart..<pending.count) + (response?.request?.head != nil ? 1 : 0)
        pending.removeAll()
        pendingStart = 0
        response = nil
        requestInProgress = nil
    }
}
