/// Entry and exit times of the read or write call that carried some bytes.
struct CallTiming: Sendable, Equatable {
    var enterNs: UInt64
    var exitNs: UInt64
}

/// Turns one direction of a connection — a byte stream with holes — into
/// HTTP/1.x messages, reported to a sink. Incremental and single-pass: bytes
/// are looked at where they lie and copied only when a head, a start line or
/// a chunk-size line is split across calls (at most `maxHeadBytes`). Bodies
/// are never kept, only counted, so a hole in a body is skipped by length.
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
    private enum LineScan { case inLine, afterLF, afterLFCR }

    /// What this direction carries, once known.
    private(set) var kind: Kind?
    private(set) var state: State
    /// A start line has been found in this direction.
    private(set) var hasSeenMessage = false
    /// Bytes passed over before the first start line (detection budget).
    private(set) var skippedBeforeFirstMessage = 0
    private let limits: TrackerLimits

    /// Owned copy of a split start line, head or chunk-size line.
    private var buffer: [UInt8] = []
    private var atLineStart = true
    /// `buffer` holds the start of a candidate start line.
    private var candidateOpen = false
    private var lineScan = LineScan.inLine
    private var trailerBytes = 0

    private var current = CallTiming(enterNs: 0, exitNs: 0)
    private var candidateTiming = CallTiming(enterNs: 0, exitNs: 0)
    private var first = CallTiming(enterNs: 0, exitNs: 0)
    private var last = CallTiming(enterNs: 0, exitNs: 0)
    private var bodySize = 0
    private var headReported = false
    private var afterMessage = SeekMode.next
    /// While `framingLost`: the last bytes seen since the last hole (up to 8,
    /// newest in the low byte), how many, and whether the bytes seen so far
    /// end with the body's end (complete if the call ends there).
    private var recentBytes: UInt64 = 0
    private var recentCount = 0
    private var endsWithTerminator = false

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

    private var isInMessage: Bool {
        switch state {
        case .seeking, .stopped: return false
        default: return true
        }
    }

    private var messageTiming: MessageTiming {
        MessageTiming(firstEnterNs: first.enterNs, firstExitNs: first.exitNs,
                      lastEnterNs: last.enterNs, lastExitNs: last.exitNs)
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
                                           lastEnterNs: timing.enterNs, lastExitNs: timing.exitNs)
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

    // MARK: - Start lines

    private mutating func seek<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int, mode: SeekMode,
                                                    segmentStart: inout Int, sink: inout S) -> Int {
        var i = start
        let n = bytes.count
        let methods: HTTP1StartLine.MethodRule = mode == .resync ? .known : .anyToken
        while i < n {
            if !candidateOpen {
                if !atLineStart {
                    guard let lf = bytes.index(of: ASCII.lf, from: i) else {
                        noteSkipped(n - i, sink: &sink)
                        return n
                    }
                    noteSkipped(lf + 1 - i, sink: &sink)
                    i = lf + 1
                    atLineStart = true
                    continue
                }
                // Empty lines before a start line are tolerated (RFC 9112 §2.2).
                if bytes[i] == ASCII.cr || bytes[i] == ASCII.lf {
                    i += 1
                    continue
                }
                candidateTiming = current
            }
            let lf = bytes.index(of: ASCII.lf, from: i)
            let end = lf.map { $0 + 1 } ?? n
            var accepted: Kind?
            var plausible: Bool
            var appended = false
            if candidateOpen {
                plausible = buffer.count + (end - i) <= limits.maxLineBytes
                if plausible {
                    buffer.appendBytes(bytes.slice(i..<end))
                    appended = true
                    plausible = buffer.withUnsafeBytes { line in
                        HTTP1StartLine.isPlausiblePrefix(line.slice(0..<min(line.count, 24)), kind: kind, methods: methods)
                    }
                    if plausible, lf != nil {
                        accepted = buffer.withUnsafeBytes { line in
                            HTTP1StartLine.classify(line.slice(0..<(line.count - 1)).droppingCR(), kind: kind, methods: methods)
                        }
                    }
                }
            } else {
                plausible = end - i <= limits.maxLineBytes
                    && HTTP1StartLine.isPlausiblePrefix(bytes.slice(i..<min(end, i + 24)), kind: kind, methods: methods)
                if plausible, let lf {
                    accepted = HTTP1StartLine.classify(bytes.slice(i..<lf).droppingCR(), kind: kind, methods: methods)
                }
            }
            if plausible && lf == nil {
                if !candidateOpen {
                    buffer.appendBytes(bytes.slice(i..<n))
                    candidateOpen = true
                }
                return n
            }
            if let accepted {
                // A message begins at the candidate; its head continues after the line.
                segmentStart = candidateOpen ? end : i
                candidateOpen = false
                beginMessage(accepted)
                lineScan = .afterLF
                return scanHead(bytes, from: end, segmentStart: segmentStart, sink: &sink)
            }
            // Not a start line.
            let passed = buffer.count + (appended ? 0 : end - i)
            if candidateOpen { discardCandidate() }
            switch mode {
            case .detect:
                sink.notHTTP()
                state = .stopped
                return n
            case .next:
                sink.lostSync(kind, unexpectedBytes: true)
                state = .seeking(.resync)
                noteSkipped(passed, sink: &sink)
                atLineStart = lf != nil
                return end
            case .resync:
                noteSkipped(passed, sink: &sink)
                atLineStart = lf != nil
                i = end
            }
        }
        return n
    }

    private mutating func beginMessage(_ lineKind: Kind) {
        if kind == nil { kind = lineKind }
        hasSeenMessage = true
        state = .head
        headReported = false
        bodySize = 0
        first = candidateTiming
        last = current
    }

    private mutating func discardCandidate() {
        candidateOpen = false
        releaseBuffer()
    }

    private mutating func noteSkipped<S: HTTP1ParserSink>(_ n: Int, sink: inout S) {
        guard n > 0 else { return }
        if !hasSeenMessage { skippedBeforeFirstMessage += n }
        sink.skipped(n)
    }

    // MARK: - Heads

    /// Advances `lineScan` through `bytes` from `start`; returns the index
    /// after the LF of the empty line, if it is in `bytes`.
    private mutating func scanForEmptyLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var j = start
        while j < bytes.count {
            switch lineScan {
            case .inLine:
                guard let lf = bytes.index(of: ASCII.lf, from: j) else { return nil }
                j = lf + 1
                lineScan = .afterLF
            case .afterLF:
                let b = bytes[j]
                if b == ASCII.lf { return j + 1 }
                if b == ASCII.cr { lineScan = .afterLFCR; j += 1 } else { lineScan = .inLine }
            case .afterLFCR:
                if bytes[j] == ASCII.lf { return j + 1 }
                lineScan = .inLine
            }
        }
        return nil
    }

    private mutating func scanHead<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                                        segmentStart: Int, sink: inout S) -> Int {
        // The common case, in one pass: the whole head lies in this call,
        // right after its start line (at most `maxHeadBytes` are looked at).
        // Otherwise the head is found line by line across calls, then parsed.
        if buffer.isEmpty, lineScan == .afterLF,
           let (result, length) = HTTP1HeadParser.parsePrefix(
               bytes.slice(segmentStart..<min(bytes.count, segmentStart + limits.maxHeadBytes)), lineKind: kind ?? .request) {
            headParsed(consume result, sink: &sink)
            return segmentStart + length
        }
        let endOfHead = scanForEmptyLine(bytes, from: start)
        let end = endOfHead ?? bytes.count
        if buffer.count + (end - segmentStart) > limits.maxHeadBytes {
            drop(.oversized, atLineStart: endOfHead != nil || lineScan == .afterLF, sink: &sink)
            return end
        }
        guard let endOfHead else {
            buffer.appendBytes(bytes.slice(segmentStart..<bytes.count))
            return bytes.count
        }
        // `beginMessage` set `kind` from the start line that `seek` classified.
        let lineKind = self.kind ?? .request
        let result = withContiguous(bytes, segmentStart..<endOfHead) { block in
            HTTP1HeadParser.parse(block, lineKind: lineKind)
        }
        headParsed(consume result, sink: &sink)
        return endOfHead
    }

    private mutating func headParsed<S: HTTP1ParserSink>(_ result: consuming HTTP1HeadParser.Result, sink: inout S) {
        switch consume result {
        case .malformed:
            drop(.malformed, atLineStart: true, sink: &sink)

        case .request(let head, let framing):
            let body: BodyPlan
            if framing.hasTransferEncoding {
                // A request whose final coding is not chunked has no knowable length.
                guard framing.isChunked else { return drop(.malformed, atLineStart: true, sink: &sink) }
                body = .chunked
            } else {
                switch framing.contentLength {
                case .absent, .length(0): body = .none
                case .length(let n): body = .fixed(n)
                case .invalid: return drop(.malformed, atLineStart: true, sink: &sink)
                }
            }
            // After an upgrade or CONNECT request, the next bytes may be another protocol.
            afterMessage = framing.wantsUpgrade || head.method == "CONNECT" ? .resync : .next
            sink.requestBegan(head, timing: messageTiming)
            headReported = true
            startBody(body, sink: &sink)

        case .response(let head, let framing):
            if head.status >= 100 && head.status < 200 && head.status != 101 {
                // Interim (100 Continue, 103 Early Hints): the final response follows.
                state = .seeking(.next)
                atLineStart = true
                return
            }
            var body: BodyPlan
            if framing.hasTransferEncoding {
                body = framing.isChunked ? .chunked : .untilClose
            } else {
                switch framing.contentLength {
                case .absent: body = .untilClose
                case .length(0): body = .none
                case .length(let n): body = .fixed(n)
                case .invalid: return drop(.malformed, atLineStart: true, sink: &sink)
                }
            }
            let status = head.status
            let context = sink.responseBegan(head, timing: messageTiming)
            headReported = true
            afterMessage = .next
            if status == 101 || (context == .connect && status / 100 == 2) {
                complete(sink: &sink)
                sink.switchedProtocols()
                state = .stopped
                releaseBuffer()
                return
            }
            if context == .head || status == 204 || status == 304 { body = .none }
            startBody(body, sink: &sink)
        }
    }

    private enum BodyPlan { case none, fixed(Int), chunked, untilClose }

    private mutating func startBody<S: HTTP1ParserSink>(_ plan: BodyPlan, sink: inout S) {
        switch plan {
        case .none: complete(sink: &sink)
        case .fixed(let n): state = .fixedBody(remaining: n)
        case .chunked: state = .chunkSizeLine
        case .untilClose: state = .untilClose
        }
    }

    // MARK: - Chunked bodies

    private mutating func chunkSizeLine<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                                             sink: inout S) -> Int {
        let lf = bytes.index(of: ASCII.lf, from: start)
        let end = lf.map { $0 + 1 } ?? bytes.count
        if buffer.count + (end - start) > limits.maxLineBytes {
            drop(.malformed, atLineStart: lf != nil, sink: &sink)
            return end
        }
        guard let lf else {
            buffer.appendBytes(bytes.slice(start..<bytes.count))
            return bytes.count
        }
        let size = withContiguous(bytes, start..<lf) { Self.chunkSize($0.droppingCR()) }
        switch size {
        case nil:
            drop(.malformed, atLineStart: true, sink: &sink)
        case 0?:
            state = .trailers
            lineScan = .afterLF
            trailerBytes = 0
        case let n?:
            state = .chunkData(remaining: n)
        }
        return end
    }

    // MARK: - Chunked bodies whose framing was lost

    /// The end of a chunked body: the CRLF after the last chunk's payload,
    /// the last chunk, and the empty line (no trailers), as the low 7 bytes.
    private static let lastChunk: UInt64 = 0x0D0A_300D_0A0D_0A  // "\r\n0\r\n\r\n"
    /// The empty line that ends trailers, after the last trailer line.
    private static let endOfTrailers: UInt64 = 0x0D0A_0D0A  // "\r\n\r\n"

    private mutating func loseFraming<S: HTTP1ParserSink>(bodySizeKnown: Bool, sink: inout S) {
        releaseBuffer()
        state = .framingLost(bodySizeKnown: bodySizeKnown)
        recentCount = 0
        endsWithTerminator = false
        if let kind { sink.framingLost(kind, bodySize: bodySizeKnown ? bodySize : nil) }
    }

    /// Passes over a lost body's bytes, watching for its end: at the end of
    /// the call (decided by `callEnded`), or followed by a start line.
    private mutating func scanLostFraming<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                                               bodySizeKnown: Bool, sink: inout S) -> Int {
        let (terminator, mask): (UInt64, UInt64) = bodySizeKnown
            ? (Self.endOfTrailers, 0xFFFF_FFFF) : (Self.lastChunk, 0xFF_FFFF_FFFF_FFFF)
        let length = bodySizeKnown ? 4 : 7
        var window = recentBytes
        var count = recentCount
        var i = start
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            window = window << 8 | UInt64(b)
            count += 1
            i += 1
            // Every terminator ends with LF: other bytes need no comparison.
            if b == ASCII.lf, count >= length, window & mask == terminator, i < n,
               Self.beginsWithStartLine(bytes, from: i, kind: kind, limits: limits) {
                completeAfterLostFraming(sink: &sink)
                return i
            }
        }
        recentBytes = window
        recentCount = min(count, 8)
        endsWithTerminator = count >= length && window & mask == terminator
        return n
    }

    /// Whether a complete start line (of this direction's kind) begins at `start`.
    private static func beginsWithStartLine(_ bytes: UnsafeRawBufferPointer, from start: Int, kind: Kind?,
                                            limits: TrackerLimits) -> Bool {
        let end = min(bytes.count, start + limits.maxLineBytes)
        guard start < end, HTTP1StartLine.isPlausiblePrefix(bytes.slice(start..<min(end, start + 24)), kind: kind,
                                                             methods: .known),
              let lf = bytes.index(of: ASCII.lf, from: start), lf < end else { return false }
        return HTTP1StartLine.classify(bytes.slice(start..<lf).droppingCR(), kind: kind, methods: .known) != nil
    }

    private mutating func completeAfterLostFraming<S: HTTP1ParserSink>(sink: inout S) {
        recentCount = 0
        endsWithTerminator = false
        complete(sink: &sink)
        // The hole may also have held the end of this message and whole
        // others: the end found may be a later message's.
        sink.lostSync(kind, unexpectedBytes: false)
    }

    /// `1*HEXDIG [BWS] [";" extensions]`; extensions are not interpreted.
    static func chunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var size = 0
        var i = 0
        while i < line.count, let digit = hexValue(line[i]) {
            guard i < 15 else { return nil }
            size = size << 4 | digit
            i += 1
        }
        guard i > 0 else { return nil }
        while i < line.count, line[i] == ASCII.space || line[i] == ASCII.tab { i += 1 }
        guard i == line.count || line[i] == ASCII.semicolon else { return nil }
        return size
    }

    private static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }

    // MARK: - Ends of messages

    private mutating func complete<S: HTTP1ParserSink>(sink: inout S) {
        if let kind { sink.messageCompleted(kind, bodySize: bodySize, timing: messageTiming) }
        headReported = false
        state = .seeking(afterMessage)
        atLineStart = true
    }

    /// Gives up the current message and looks for the next start line.
    private mutating func drop<S: HTTP1ParserSink>(_ reason: HTTP1DropReason, atLineStart: Bool, sink: inout S) {
        sink.messageDropped(kind ?? .request, reason: reason, headReported: headReported, timing: messageTiming)
        headReported = false
        candidateOpen = false
        releaseBuffer()
        state = .seeking(.resync)
        self.atLineStart = atLineStart
    }

    /// Empties the buffer, keeping a small allocation for the next split line.
    private mutating func releaseBuffer() {
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)
    }

    /// Runs `body` over `buffer + bytes[range]` as one contiguous buffer,
    /// copying `bytes[range]` only if earlier bytes are already buffered.
    private mutating func withContiguous<R>(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>,
                                            _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if buffer.isEmpty { return body(bytes.slice(range)) }
        buffer.appendBytes(bytes.slice(range))
        let result = buffer.withUnsafeBytes(body)
        releaseBuffer()
        return result
    }
}
