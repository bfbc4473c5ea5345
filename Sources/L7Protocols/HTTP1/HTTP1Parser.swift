/// Turns one direction of a connection — a byte stream with holes — into
/// HTTP/1.x messages, reported to a sink. Incremental and single-pass: bytes
/// are looked at where they lie and copied only when a head, a start line or
/// a chunk-size line is split across calls (at most `maxHeadBytes`). Bodies
/// are never kept, only counted, so a hole in a body is skipped by length.
///
/// Split over three files: this one (state, input, holes, ends of
/// messages), `+StartLines` (start lines and heads) and `+ChunkedBodies`;
/// their members are internal for that reason alone.
struct HTTP1Parser {
    typealias Kind = HTTP1StartLine.Kind

    /// How sure the parser is that a start line begins where it looks.
    enum SeekMode: Equatable {
        /// The first bytes of a connection: anything but a start line means
        /// the connection is not HTTP/1.
        case detect
        /// A message boundary: anything but a start line is an error, after
        /// which the parser resynchronises.
        case next
        /// Position lost: look for a start line at each line start, the
        /// start of each call and after each hole; pass over anything else.
        case resync
    }

    enum State: Equatable {
        case seeking(SeekMode)
        case head
        case fixedBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd(sawCR: Bool)
        case trailers
        case untilClose
        /// A hole fell in the framing of a chunked body (or its trailers):
        /// its bytes can no longer be followed. The message ends at a call
        /// ending with the end of the body (`terminator`), at a call that
        /// begins with a start line, or at the close. `bodySizeKnown`: the
        /// hole fell in the trailers, after the last chunk.
        case framingLost(bodySizeKnown: Bool)
        /// Not HTTP, a tunnel, or closed: every byte is ignored.
        case stopped
    }

    /// Progress of the search for the empty line that ends a head.
    enum LineScan { case inLine, afterLF, afterLFCR }

    /// What this direction carries, once known.
    var kind: Kind?
    var state: State
    /// A start line has been found in this direction.
    var hasSeenMessage = false
    /// Bytes passed over before the first start line (detection budget).
    var skippedBeforeFirstMessage = 0
    let limits: TrackerLimits

    /// Owned copy of a split start line, head or chunk-size line.
    var buffer: [UInt8] = []
    var atLineStart = true
    /// `buffer` holds the start of a candidate start line.
    var candidateOpen = false
    var lineScan = LineScan.inLine
    var trailerBytes = 0

    var current = CallTiming(enterNs: 0, exitNs: 0)
    var candidateTiming = CallTiming(enterNs: 0, exitNs: 0)
    var first = CallTiming(enterNs: 0, exitNs: 0)
    var last = CallTiming(enterNs: 0, exitNs: 0)
    var bodySize = 0
    var headReported = false
    var afterMessage = SeekMode.next
    /// While `framingLost`: the last bytes seen since the last hole (up to 8,
    /// newest in the low byte), how many, and whether the bytes seen so far
    /// end with the body's end (complete if the call ends there).
    var recentBytes: UInt64 = 0
    var recentCount = 0
    var endsWithTerminator = false

    init(kind: Kind?, mode: SeekMode, limits: TrackerLimits) {
        self.kind = kind
        self.state = .seeking(mode)
        self.limits = limits
    }

    /// Fixes what this direction carries (role known or inferred).
    mutating func expect(_ kind: Kind) {
        if self.kind == nil { self.kind = kind }
    }

    /// The other direction proved the connection is HTTP/1: a start line
    /// that does not parse here is now an error, not a verdict.
    mutating func connectionIsHTTP() {
        if state == .seeking(.detect) { state = .seeking(.next) }
    }

    /// Bytes held for a split line or head.
    var bufferedBytes: Int { buffer.count }

    var isInMessage: Bool {
        switch state {
        case .seeking, .stopped: return false
        default: return true
        }
    }

    var messageTiming: MessageTiming {
        MessageTiming(firstEnterNs: first.enterNs, firstExitNs: first.exitNs,
                      lastEnterNs: last.enterNs, lastExitNs: last.exitNs, firstTid: first.tid)
    }

    // MARK: - Input

    /// Consumes captured bytes of one call. `startsCall` is true for the
    /// first bytes of a read or write, a likely message boundary.
    mutating func feed<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, timing: CallTiming, startsCall: Bool,
                                            sink: inout S) {
        current = timing
        if startsCall, case .framingLost = state, Self.beginsWithStartLine(bytes, from: 0, kind: kind, limits: limits) {
            // The writer (or reader) moved on to the next message: the lost body ended with the last call.
            completeAfterLostFraming(sink: &sink)
        }
        if isInMessage { last = timing }
        if startsCall, state == .seeking(.resync), !candidateOpen { atLineStart = true }
        var i = 0
        // Where the unbuffered part of the head being accumulated starts.
        var segmentStart = 0
        while i < bytes.count {
            switch state {
            case .stopped:
                return
            case .seeking(let mode):
                i = seek(bytes, from: i, mode: mode, segmentStart: &segmentStart, sink: &sink)
            case .head:
                i = scanHead(bytes, from: i, segmentStart: segmentStart, sink: &sink)
            case .fixedBody(let remaining):
                let n = min(remaining, bytes.count - i)
                bodySize += n
                i += n
                if n == remaining { complete(sink: &sink) } else { state = .fixedBody(remaining: remaining - n) }
            case .chunkSizeLine:
                i = chunkSizeLine(bytes, from: i, sink: &sink)
            case .chunkData(let remaining):
                let n = min(remaining, bytes.count - i)
                bodySize += n
                i += n
                state = n == remaining ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - n)
            case .chunkDataEnd(let sawCR):
                let b = bytes[i]
                if b == ASCII.cr && !sawCR {
                    state = .chunkDataEnd(sawCR: true); i += 1
                } else if b == ASCII.lf {
                    state = .chunkSizeLine; i += 1
                } else {
                    drop(.malformed, atLineStart: false, sink: &sink)
                }
            case .trailers:
                let end = scanForEmptyLine(bytes, from: i)
                trailerBytes += (end ?? bytes.count) - i
                if trailerBytes > limits.maxHeadBytes {
                    drop(.oversized, atLineStart: end != nil, sink: &sink)
                } else if end != nil {
                    complete(sink: &sink)
                }
                i = end ?? bytes.count
            case .untilClose:
                bodySize += bytes.count - i
                i = bytes.count
            case .framingLost(let bodySizeKnown):
                i = scanLostFraming(bytes, from: i, bodySizeKnown: bodySizeKnown, sink: &sink)
            }
        }
    }

    /// The read or write call fed last is over: a body whose framing was
    /// lost ends here if its last bytes were the body's end.
    mutating func callEnded<S: HTTP1ParserSink>(sink: inout S) {
        if case .framingLost = state, endsWithTerminator { completeAfterLostFraming(sink: &sink) }
    }

    /// Bytes of a call that the capture did not keep.
    mutating func skipHole<S: HTTP1ParserSink>(_ n: Int, timing: CallTiming, sink: inout S) {
        guard n > 0 else { return }
        current = timing
        if isInMessage { last = timing }
        switch state {
        case .stopped:
            return
        case .seeking(let mode):
            if candidateOpen {
                // A start line cut by the capture (longer than what the
                // kernel copied): a message was seen, and is lost.
                let timing = MessageTiming(firstEnterNs: candidateTiming.enterNs, firstExitNs: candidateTiming.exitNs,
                                           lastEnterNs: timing.enterNs, lastExitNs: timing.exitNs,
                                           firstTid: candidateTiming.tid)
                sink.messageDropped(kind ?? .request, reason: .hole, headReported: false, timing: timing)
                discardCandidate()
            }
            atLineStart = true
            if mode != .resync { state = .seeking(.resync) }
            sink.lostSync(kind, unexpectedBytes: false)
        case .head:
            drop(.hole, atLineStart: true, sink: &sink)
        case .fixedBody(let remaining):
            if n < remaining {
                bodySize += n
                state = .fixedBody(remaining: remaining - n)
            } else {
                bodySize += remaining
                complete(sink: &sink)
                // Whatever followed the body in the hole is lost: whole
                // messages may be in it.
                skipHole(n - remaining, timing: timing, sink: &sink)
            }
        case .chunkData(let remaining):
            if n < remaining {
                bodySize += n
                state = .chunkData(remaining: remaining - n)
            } else if n <= remaining + 2 {
                // The payload's end, and perhaps (part of) the CRLF after it: still in step.
                bodySize += remaining
                state = .chunkDataEnd(sawCR: false)
                skipHole(n - remaining, timing: timing, sink: &sink)
            } else {
                bodySize += remaining
                loseFraming(bodySizeKnown: false, sink: &sink)
            }
        case .chunkDataEnd(let sawCR):
            // Only (part of) the CRLF after a chunk's payload: the framing is still known.
            let left = sawCR ? 1 : 2
            if n < left {
                state = .chunkDataEnd(sawCR: true)
            } else if n == left {
                state = .chunkSizeLine
            } else {
                loseFraming(bodySizeKnown: false, sink: &sink)
            }
        case .chunkSizeLine:
            loseFraming(bodySizeKnown: false, sink: &sink)
        case .trailers:
            loseFraming(bodySizeKnown: true, sink: &sink)
        case .framingLost:
            recentCount = 0
            endsWithTerminator = false
        case .untilClose:
            bodySize += n
        }
    }

    /// The connection closed: a body delimited by the close ends here.
    mutating func finish<S: HTTP1ParserSink>(sink: inout S) {
        switch state {
        case .untilClose:
            complete(sink: &sink)
        case .framingLost:
            // The close is the last place the body can end; whether it was whole is not known.
            completeAfterLostFraming(sink: &sink)
        case .fixedBody, .chunkSizeLine, .chunkData, .chunkDataEnd, .trailers:
            if headReported, let kind { sink.messageIncomplete(kind, bodySize: bodySize, timing: messageTiming) }
        default:
            break
        }
        state = .stopped
        buffer = []
    }

    // MARK: - Ends of messages

    mutating func complete<S: HTTP1ParserSink>(sink: inout S) {
        if let kind { sink.messageCompleted(kind, bodySize: bodySize, timing: messageTiming) }
        headReported = false
        state = .seeking(afterMessage)
        atLineStart = true
    }

    /// Gives up the current message and looks for the next start line.
    mutating func drop<S: HTTP1ParserSink>(_ reason: HTTP1DropReason, atLineStart: Bool, sink: inout S) {
        sink.messageDropped(kind ?? .request, reason: reason, headReported: headReported, timing: messageTiming)
        headReported = false
        candidateOpen = false
        releaseBuffer()
        state = .seeking(.resync)
        self.atLineStart = atLineStart
    }

    /// Empties the buffer, keeping a small allocation for the next split line.
    mutating func releaseBuffer() {
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)
    }

    /// Runs `body` over `buffer + bytes[range]` as one contiguous buffer,
    /// copying `bytes[range]` only if earlier bytes are already buffered.
    mutating func withContiguous<R>(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>,
                                            _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if buffer.isEmpty { return body(bytes.slice(range)) }
        buffer.appendBytes(bytes.slice(range))
        let result = buffer.withUnsafeBytes(body)
        releaseBuffer()
        return result
    }
}
