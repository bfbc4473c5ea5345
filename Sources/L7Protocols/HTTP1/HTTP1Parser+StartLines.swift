import L7Events

/// Finding start lines (detecting, in step, or resynchronising) and
/// parsing heads: where a message begins and how its body is framed.
extension HTTP1Parser {
    // MARK: - Start lines

    mutating func seek<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int, mode: SeekMode,
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

    mutating func beginMessage(_ lineKind: Kind) {
        if kind == nil { kind = lineKind }
        hasSeenMessage = true
        state = .head
        headReported = false
        bodySize = 0
        first = candidateTiming
        last = current
    }

    mutating func discardCandidate() {
        candidateOpen = false
        releaseBuffer()
    }

    mutating func noteSkipped<S: HTTP1ParserSink>(_ n: Int, sink: inout S) {
        guard n > 0 else { return }
        if !hasSeenMessage { skippedBeforeFirstMessage += n }
        sink.skipped(n)
    }

    // MARK: - Heads

    /// Advances `lineScan` through `bytes` from `start`; returns the index
    /// after the LF of the empty line, if it is in `bytes`.
    mutating func scanForEmptyLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
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

    mutating func scanHead<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int,
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

    mutating func headParsed<S: HTTP1ParserSink>(_ result: consuming HTTP1HeadParser.Result, sink: inout S) {
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

    enum BodyPlan { case none, fixed(Int), chunked, untilClose }

    mutating func startBody<S: HTTP1ParserSink>(_ plan: BodyPlan, sink: inout S) {
        switch plan {
        case .none: complete(sink: &sink)
        case .fixed(let n): state = .fixedBody(remaining: n)
        case .chunked: state = .chunkSizeLine
        case .untilClose: state = .untilClose
        }
    }
}
