/// Makes exchanges of one connection's HTTP/1 messages: a response bound
/// to the request the queue paired it with (`HTTP1RequestQueue`) becomes an
/// `Exchange` when it ends, and every message given up is counted under
/// its reason. It never reads bytes, and the parsers never call it: the
/// HTTP/1 session hands it what they found.
struct HTTP1Stitcher {
    typealias PendingRequest = HTTP1RequestQueue.PendingRequest

    struct BoundResponse {
        /// nil: an orphan, parsed only to find where it ends.
        var request: PendingRequest?
        var head: HTTPResponseHead
        var bodySizeKnown = true
    }

    var connection: ConnectionInfo
    /// The response being parsed, bound to its request.
    private var response: BoundResponse?
    /// Exchanges completed since the owner last drained them; the buffer is lent (`HTTP1SpareBuffers`).
    var ready: [Exchange] = []
    /// Counters since the owner last collected them.
    var stats = ProtocolStats()

    init(connection: ConnectionInfo) {
        self.connection = connection
    }

    // MARK: - Buffers

    mutating func borrow(_ spare: inout [Exchange]) {
        if ready.capacity == 0 { swap(&ready, &spare) }
    }

    mutating func giveBack(_ spare: inout [Exchange]) {
        guard ready.isEmpty && ready.capacity > 0 else { return }
        if spare.capacity == 0 && ready.capacity <= 16 { swap(&ready, &spare) } else { ready = [] }
    }

    // MARK: - Requests

    /// Applies `change` to the request of the response in flight if it has
    /// `sequence` (a response may begin before its request's body ends).
    mutating func updateAnsweredRequest(_ sequence: UInt64, _ change: (inout PendingRequest) -> Void) {
        if response?.request?.sequence == sequence { change(&response!.request!) }
    }

    // MARK: - Responses

    mutating func responseBegan(_ head: consuming HTTPResponseHead, answering request: consuming PendingRequest?) {
        response = BoundResponse(request: consume request, head: consume head)
    }

    /// A hole fell in the chunked framing of the response in flight, before the body's end.
    mutating func responseBodySizeLost() { response?.bodySizeKnown = false }

    /// The response in flight ended (`failure` nil: whole). Returns the
    /// sequence of the request it answered.
    @discardableResult
    mutating func responseEnded(bodySize: Int, timing: MessageTiming, failure: ExchangeFailure?) -> UInt64? {
        // Moved out (not copied) so the heads pass into the exchange without reference counting.
        var taken: BoundResponse?
        swap(&taken, &response)
        guard var bound = taken.take() else { return nil }
        guard var request = bound.request.take() else { return nil }  // orphan, already counted
        let sequence = request.sequence
        guard let requestHead = request.head.take() else { return nil }  // a placeholder, counted when dropped
        var exchange = Exchange(connection: connection, request: requestHead, response: bound.head,
                                requestBodySize: request.bodySize, responseBodySize: bodySize,
                                requestTiming: request.timing, responseTiming: timing, failure: failure)
        if !request.bodySizeKnown { exchange.undecoded.insert(.requestBodySize) }
        if !bound.bodySizeKnown { exchange.undecoded.insert(.responseBodySize) }
        exchange.position = .http1(sequence: sequence, exact: request.exact)
        ready.append(consume exchange)
        stats.exchanges += 1
        return sequence
    }

    /// The response in flight was given up; its exchange is lost (counted by the caller).
    mutating func responseDropped() { response = nil }

    /// A request that never got a response: reported without one.
    mutating func unanswered(_ request: PendingRequest) {
        guard let head = request.head else { return }
        var exchange = Exchange(connection: connection, request: head, response: nil,
                                requestBodySize: request.bodySize, responseBodySize: 0,
                                requestTiming: request.timing, responseTiming: nil, failure: .connectionClosed)
        if !request.bodySizeKnown { exchange.undecoded.insert(.requestBodySize) }
        exchange.position = .http1(sequence: request.sequence, exact: request.exact)
        ready.append(exchange)
        stats.exchanges += 1
    }

    // MARK: - Losses

    mutating func countDrop(_ reason: HTTP1DropReason) {
        switch reason {
        case .hole: stats.holesInHeaders += 1
        case .malformed: stats.malformedMessages += 1
        case .oversized: stats.oversizedHeads += 1
        }
    }

    // MARK: - Closing

    /// The connection is gone with a response in flight: its exchange is lost.
    mutating func abandonResponse() {
        if let bound = response {
            response = nil
            if bound.request?.head != nil { stats.droppedExchanges += 1 }
        }
    }
}
