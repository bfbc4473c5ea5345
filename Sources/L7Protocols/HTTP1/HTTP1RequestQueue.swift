/// The requests of one connection waiting for their responses, and which
/// of them a response answers (HTTP/1.1 answers in request order, pipelined
/// or not). The HTTP/1 session owns it: the response parser learns from it
/// whether it frames the answer to a HEAD or a CONNECT.
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
struct HTTP1RequestQueue {
    struct PendingRequest {
        /// nil: a placeholder for a request that was seen but dropped (its
        /// loss counted then, under its reason: each lost exchange counts once).
        var head: HTTPRequestHead?
        var timing: MessageTiming
        var bodySize = 0
        /// false: a hole fell in the body's chunked framing.
        var bodySizeKnown = true
        var sequence: UInt64
        /// Whether `sequence` is the one the other end counts (see `RequestPosition.http1`).
        var exact = false
        /// More than 0: a placeholder for that many requests that came while
        /// the queue was full, dropped on arrival (and counted then). Only
        /// their number is kept, so responses still pair in order.
        var overflowRun = 0

        /// How the response to this request is framed.
        var context: HTTP1RequestContext {
            switch head?.method {
            case "HEAD"?: return .head
            case "CONNECT"?: return .connect
            default: return .ordinary
            }
        }
    }

    private let maxPending: Int
    /// Requests waiting for their responses, from `start` on; the buffer is lent (`HTTP1SpareBuffers`).
    private var pending: [PendingRequest] = []
    private var start = 0
    private var nextSequence: UInt64 = 0
    /// The request whose body is being parsed (waiting, or already answered).
    var inProgress: UInt64?
    private var responsesUncertain = false
    /// Requests passed over by rule 3 (already counted) whose responses may still come (rule 4).
    private var passedOver = 0
    /// The queue's own losses, since last collected (three counters, so
    /// that checking them per event costs three comparisons).
    struct Losses: Equatable {
        var pipelineOverflows = 0
        var orphanResponses = 0
        var droppedExchanges = 0
    }
    var losses = Losses()

    init(maxPending: Int) {
        self.maxPending = maxPending
    }

    var count: Int { pending.count - start }
    /// Request heads held while waiting for responses (bounded by `maxPending`).
    var heldHeads: Int { pending[start...].reduce(0) { $0 + ($1.head == nil ? 0 : 1) } }
    /// Entries of the queue's buffer, waiting or not yet compacted away.
    var entries: Int { pending.count }

    // MARK: - Buffers

    mutating func borrow(_ spare: inout [PendingRequest]) {
        if pending.isEmpty && pending.capacity == 0 { swap(&pending, &spare) }
    }

    mutating func giveBack(_ spare: inout [PendingRequest]) {
        guard pending.isEmpty && pending.capacity > 0 else { return }
        if spare.capacity == 0 && pending.capacity <= 64 { swap(&pending, &spare) } else { pending = [] }
    }

    // MARK: - Requests

    /// Queues a request whose head was parsed; it is the one in progress
    /// (unless the queue was full and it was dropped).
    mutating func requestBegan(_ head: consuming HTTPRequestHead, timing: MessageTiming, exact: Bool = false) {
        inProgress = enqueue(consume head, timing: timing, exact: exact)
    }

    /// A request seen but not readable: a placeholder keeps its place (rule 1).
    mutating func requestDropped(timing: MessageTiming) {
        _ = enqueue(nil, timing: timing, exact: false)
    }

    /// Queues a request (nil head: a placeholder); nil when the queue was full and it was dropped.
    private mutating func enqueue(_ head: consuming HTTPRequestHead?, timing: MessageTiming, exact: Bool) -> UInt64? {
        let sequence = nextSequence
        nextSequence += 1
        guard count < maxPending else {
            // Bounded memory: the newest request is dropped, not the oldest,
            // so the responses on their way still find their requests.
            losses.pipelineOverflows += 1
            if pending.count > start, pending[pending.count - 1].overflowRun > 0 {
                pending[pending.count - 1].overflowRun += 1
            } else {
                pending.append(PendingRequest(head: nil, timing: timing, sequence: sequence, overflowRun: 1))
            }
            return nil
        }
        pending.append(PendingRequest(head: head, timing: timing, sequence: sequence, exact: exact))
        return sequence
    }

    /// Applies `change` to the waiting request with `sequence`; false if it is not waiting any more.
    mutating func update(_ sequence: UInt64, _ change: (inout PendingRequest) -> Void) -> Bool {
        // From the newest: the request being updated is nearly always the last one queued.
        var index = pending.count - 1
        while index >= start {
            if pending[index].sequence == sequence {
                change(&pending[index])
                return true
            }
            if pending[index].sequence < sequence { break }
            index -= 1
        }
        return false
    }

    /// Requests in `range` not yet counted as lost (placeholders were counted when dropped).
    private func uncounted(_ range: Range<Int>) -> Int {
        var n = 0
        for i in range where pending[i].head != nil { n += 1 }
        return n
    }

    // MARK: - Responses

    /// The response direction lost its place between messages (rule 3).
    mutating func responsesLostSync() { responsesUncertain = true }

    /// A request was lost before it reached us and is counted by the caller:
    /// its response, when it comes, is not counted as an orphan.
    mutating func requestLostUncounted() { passedOver += 1 }

    /// Removes and returns the request a response that began at `timing`
    /// answers; nil for an orphan (counted, unless rule 4 expected it).
    mutating func takePartner(for timing: MessageTiming) -> PendingRequest? {
        // Read in place by index: a request passed to a closure would be copied.
        func began(_ index: Int) -> Bool { pending[index].timing.firstEnterNs <= timing.firstExitNs }
        var chosen: Int?
        if responsesUncertain {
            chosen = (start..<pending.count).last(where: began)
        } else if start < pending.count, began(start) {
            chosen = start
        }
        guard let chosen else {
            if passedOver > 0 { passedOver -= 1 } else { losses.orphanResponses += 1 }
            return nil
        }
        // Requests older than the partner lost their responses.
        losses.droppedExchanges += uncounted(start..<chosen)
        for index in start..<chosen { passedOver += max(pending[index].overflowRun, 1) }
        if pending[chosen].overflowRun > 1 {
            // One of a run of dropped requests: the run stays for the others.
            pending[chosen].overflowRun -= 1
            start = chosen
            responsesUncertain = false
            return PendingRequest(head: nil, timing: pending[chosen].timing, sequence: pending[chosen].sequence,
                                  overflowRun: 1)
        }
        // Moved out, leaving an empty entry behind, so the head is not copied.
        var partner = PendingRequest(head: nil, timing: pending[chosen].timing, sequence: pending[chosen].sequence,
                                     exact: pending[chosen].exact)
        swap(&partner, &pending[chosen])
        start = chosen + 1
        compact()
        responsesUncertain = false
        return partner
    }

    private mutating func compact() {
        if start == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= 64)
            start = 0
        } else if start >= 32 && start * 2 >= pending.count {
            pending.removeFirst(start)
            start = 0
        }
    }

    // MARK: - Closing

    /// The connection is gone: hands over the requests that never got a
    /// response (placeholders were counted when dropped and are left out).
    mutating func takeUnanswered(_ body: (PendingRequest) -> Void) {
        for request in pending[start...] where request.head != nil { body(request) }
        pending.removeAll()
        start = 0
        inProgress = nil
    }

    /// Forgets every waiting request, counting those not counted yet.
    mutating func discard() {
        losses.droppedExchanges += uncounted(start..<pending.count)
        pending.removeAll()
        start = 0
        inProgress = nil
    }
}
