import L7Basics
import L7Events

/// Chunked bodies: chunk-size lines, and bodies whose framing fell in a
/// hole, followed to their end by the bytes that end every chunked body.
extension HTTP1Parser {
    // MARK: - Chunked bodies

    mutating func chunkSizeLine<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int,
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
    static let lastChunk: UInt64 = 0x0D0A_300D_0A0D_0A  // "\r\n0\r\n\r\n"
    /// The empty line that ends trailers, after the last trailer line.
    static let endOfTrailers: UInt64 = 0x0D0A_0D0A  // "\r\n\r\n"

    mutating func loseFraming<S: HTTP1ParserSink>(bodySizeKnown: Bool, sink: inout S) {
        releaseBuffer()
        state = .framingLost(bodySizeKnown: bodySizeKnown)
        recentCount = 0
        endsWithTerminator = false
        if let kind { sink.framingLost(kind, bodySize: bodySizeKnown ? bodySize : nil) }
    }

    /// Passes over a lost body's bytes, watching for its end: at the end of
    /// the call (decided by `callEnded`), or followed by a start line.
    mutating func scanLostFraming<S: HTTP1ParserSink>(_ bytes: UnsafeRawBufferPointer, from start: Int,
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
    static func beginsWithStartLine(_ bytes: UnsafeRawBufferPointer, from start: Int, kind: Kind?,
                                            limits: TrackerLimits) -> Bool {
        let end = min(bytes.count, start + limits.maxLineBytes)
        guard start < end, HTTP1StartLine.isPlausiblePrefix(bytes.slice(start..<min(end, start + 24)), kind: kind,
                                                             methods: .known),
              let lf = bytes.index(of: ASCII.lf, from: start), lf < end else { return false }
        return HTTP1StartLine.classify(bytes.slice(start..<lf).droppingCR(), kind: kind, methods: .known) != nil
    }

    mutating func completeAfterLostFraming<S: HTTP1ParserSink>(sink: inout S) {
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
        while i < line.count, let digit = Hex.digitValue(line[i]) {
            guard i < 15 else { return nil }
            size = size << 4 | digit
            i += 1
        }
        guard i > 0 else { return nil }
        while i < line.count, ASCIIWhitespace.isOWS(line[i]) { i += 1 }
        guard i == line.count || line[i] == ASCII.semicolon else { return nil }
        return size
    }
}
