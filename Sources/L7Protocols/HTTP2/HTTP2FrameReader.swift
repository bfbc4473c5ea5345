import L7Events

/// Splits one direction of an HTTP/2 connection — a byte stream with holes —
/// into frames, reported to an `HTTP2FrameSink`. Single pass: DATA payloads
/// are never copied, only handed over where they lie and skipped by length
/// across holes; header-block fragments are copied (bounded by
/// `maxHeaderBlockBytes`); other frames keep at most their first bytes.
///
/// A hole inside a frame header loses the frame boundary: the reader then
/// waits for a call that starts with a plausible frame header.
///
/// Over 300 lines on purpose: holes (`skipHole`, `consumeHole`, `loseSync`)
/// are not a layer over the frame path but steps of the same state machine,
/// moving the same private cursor (state, remaining, padding, block); split
/// into two files, that state would have to become internal.
struct HTTP2FrameReader {
    private enum State {
        /// Collecting a frame header in `headerBytes`.
        case header
        /// Inside the payload of `frame`; `remaining` bytes to go.
        case payload
        /// Boundary lost: resume at a call that starts with a plausible header.
        case lost
    }

    let direction: Direction
    private let maxHeaderBlockBytes: Int
    private var state = State.header
    private var headerBytes: [UInt8] = []
    private var frame = HTTP2FrameHeader(length: 0, type: .data, flags: 0, streamID: 0)
    private var remaining = 0
    private var frameFirst = CallTiming(enterNs: 0, exitNs: 0)

    // DATA: padding handling.
    private var awaitingPadLength = false
    private var padding = 0
    private var padLengthLost = false

    // Small frames and header fragments.
    private var payload: [UInt8] = []
    private var payloadLost = false

    // Header block in progress (HEADERS/PUSH_PROMISE then CONTINUATIONs).
    private var block: [UInt8] = []
    private var blockStream: UInt32?
    private var blockEndStream = false
    private var blockIsPush = false
    private var blockLost = false
    /// The block in progress outgrew `maxHeaderBlockBytes` (endless CONTINUATIONs, say).
    private var blockTooLarge = false
    private var blockFirst = CallTiming(enterNs: 0, exitNs: 0)

    init(direction: Direction, maxHeaderBlockBytes: Int, inSync: Bool = true) {
        self.direction = direction
        self.maxHeaderBlockBytes = maxHeaderBlockBytes
        if !inSync { state = .lost }
        headerBytes.reserveCapacity(HTTP2FrameHeader.size)
    }

    var bufferedBytes: Int { headerBytes.count + payload.count + block.count }

    // MARK: - Input

    mutating func feed<S: HTTP2FrameSink>(_ bytes: UnsafeRawBufferPointer, startsCall: Bool, timing: CallTiming,
                                          sink: inout S) {
        var rest = bytes
        if case .lost = state {
            guard startsCall, rest.count >= HTTP2FrameHeader.size,
                  HTTP2FrameHeader(rest).isPlausible(maxLength: 1 << 24 - 1) else { return }
            state = .header
        }
        while !rest.isEmpty {
            switch state {
            case .lost:
                return
            case .header:
                if headerBytes.isEmpty && rest.count >= HTTP2FrameHeader.size {
                    let header = HTTP2FrameHeader(rest)
                    if let used = wholeHeaderBlock(header, in: rest, timing: timing, sink: &sink) {
                        rest = UnsafeRawBufferPointer(rebasing: rest[used...])
                        continue
                    }
                    begin(header, timing: timing, sink: &sink)
                    rest = UnsafeRawBufferPointer(rebasing: rest[HTTP2FrameHeader.size...])
                } else {
                    let take = min(HTTP2FrameHeader.size - headerBytes.count, rest.count)
                    headerBytes.appendBytes(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
                    rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                    if headerBytes.count == HTTP2FrameHeader.size {
                        let header = headerBytes.withUnsafeBytes { HTTP2FrameHeader($0) }
                        headerBytes.removeAll(keepingCapacity: true)
                        begin(header, timing: timing, sink: &sink)
                    }
                }
            case .payload:
                let take = min(remaining, rest.count)
                consumePayload(UnsafeRawBufferPointer(rebasing: rest[0..<take]), timing: timing, sink: &sink)
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            }
        }
    }

    /// `count` bytes the capture did not keep.
    mutating func skipHole<S: HTTP2FrameSink>(_ count: Int, timing: CallTiming, sink: inout S) {
        guard count > 0 else { return }
        switch state {
        case .lost:
            return
        case .header:
            loseSync(sink: &sink)
        case .payload:
            let take = min(remaining, count)
            consumeHole(take, timing: timing, sink: &sink)
            if count > take { loseSync(sink: &sink) }
        }
    }

    // MARK: - Frames

    private mutating func begin<S: HTTP2FrameSink>(_ header: HTTP2FrameHeader, timing: CallTiming, sink: inout S) {
        // A frame boundary in a stream we follow: reject only what cannot be a frame at all.
        // (Unknown types are allowed and skipped by length.)
        if header.type != nil && !header.isPlausible(maxLength: 1 << 24 - 1) {
            loseSync(sink: &sink)
            return
        }
        if blockStream != nil && header.type != .continuation {
            // A header block must continue with CONTINUATION frames only.
            finishBlock(lost: true, sink: &sink)
        }
        frame = header
        remaining = header.length
        frameFirst = timing
        payload.removeAll(keepingCapacity: payload.capacity <= 1024)
        payloadLost = false
        awaitingPadLength = header.type == .data && header.has(HTTP2FrameHeader.Flag.padded)
        padding = 0
        padLengthLost = false
        if header.type == .headers || header.type == .pushPromise {
            blockStream = header.streamID
            blockEndStream = header.type == .headers && header.has(HTTP2FrameHeader.Flag.endStream)
            blockIsPush = header.type == .pushPromise
            blockLost = false
            blockTooLarge = false
            blockFirst = timing
            block.removeAll(keepingCapacity: block.capacity <= 16 * 1024)
        }
        state = .payload
        if remaining == 0 { endFrame(timing: timing, sink: &sink) }
    }

    private mutating func consumePayload<S: HTTP2FrameSink>(_ bytes: UnsafeRawBufferPointer, timing: CallTiming,
                                                            sink: inout S) {
        remaining -= bytes.count
        switch frame.type {
        case .data:
            var rest = bytes
            if awaitingPadLength, let first = rest.first {
                awaitingPadLength = false
                padding = Int(first)
                rest = UnsafeRawBufferPointer(rebasing: rest[1...])
            }
            // Data ends `padding` bytes before the frame does.
            let dataLeftBefore = remaining + rest.count - padding
            let dataHere = max(0, min(rest.count, dataLeftBefore))
            if dataHere > 0 {
                sink.data(UnsafeRawBufferPointer(rebasing: rest[0..<dataHere]), count: dataHere,
                          stream: frame.streamID, timing: timing, from: direction)
            }
        case .headers, .pushPromise, .continuation, .settings, .rstStream, .goaway:
            let limit = frame.type == .goaway ? 8 : (frame.type == .settings ? 6 * 64 : maxHeaderBlockBytes)
            if payload.count + bytes.count <= limit {
                payload.appendBytes(bytes)
            } else {
                payloadLost = payloadLost || frame.type != .goaway
                if frame.type == .goaway, payload.count < 8 {
                    payload.appendBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<(8 - payload.count)]))
                }
            }
        default:
            break  // PING, PRIORITY, WINDOW_UPDATE, unknown types: nothing a span needs.
        }
        if remaining == 0 { endFrame(timing: timing, sink: &sink) }
    }

    private mutating func consumeHole<S: HTTP2FrameSink>(_ count: Int, timing: CallTiming, sink: inout S) {
        remaining -= count
        switch frame.type {
        case .data:
            var count = count
            if awaitingPadLength {
                awaitingPadLength = false
                padLengthLost = true
                count -= 1
            }
            if padLengthLost {
                // Data and padding are indistinguishable: count all as data.
                sink.data(nil, count: count, stream: frame.streamID, timing: timing, from: direction)
            } else {
                let dataLeftBefore = remaining + count - padding
                let dataHere = max(0, min(count, dataLeftBefore))
                if dataHere > 0 { sink.data(nil, count: dataHere, stream: frame.streamID, timing: timing, from: direction) }
            }
        default:
            payloadLost = true
        }
        if remaining == 0 { endFrame(timing: timing, sink: &sink) }
    }

    private mutating func endFrame<S: HTTP2FrameSink>(timing: CallTiming, sink: inout S) {
        state = .header
        let f = frame
        switch f.type {
        case .data:
            sink.dataFrameEnded(stream: f.streamID, endStream: f.has(HTTP2FrameHeader.Flag.endStream), timing: timing,
                                from: direction)
        case .headers, .pushPromise, .continuation:
            appendFragment(timing: timing, sink: &sink)
        case .rstStream where !payloadLost && payload.count == 4:
            sink.rstStream(stream: f.streamID, errorCode: Self.uint32(payload, at: 0), timing: timing, from: direction)
        case .settings where !payloadLost:
            var values: [(id: UInt16, value: UInt32)] = []
            var i = 0
            while i + 6 <= payload.count {
                values.append((UInt16(payload[i]) << 8 | UInt16(payload[i + 1]), Self.uint32(payload, at: i + 2)))
                i += 6
            }
            sink.settings(values, ack: f.has(HTTP2FrameHeader.Flag.ack), from: direction)
        case .goaway where payload.count >= 8:
            sink.goaway(lastStream: Self.uint32(payload, at: 0) & 0x7FFF_FFFF, errorCode: Self.uint32(payload, at: 4),
                        timing: timing, from: direction)
        default:
            break
        }
    }

    /// The common case: a HEADERS frame that is a whole header block (END_HEADERS,
    /// no block in progress) and lies whole in `bytes` is handed to the sink
    /// where it lies, without copying it through `payload` and `block`.
    /// Returns the bytes used, or nil to take the general path.
    private mutating func wholeHeaderBlock<S: HTTP2FrameSink>(_ header: HTTP2FrameHeader, in bytes: UnsafeRawBufferPointer,
                                                              timing: CallTiming, sink: inout S) -> Int? {
        let size = HTTP2FrameHeader.size
        guard header.type == .headers, header.has(HTTP2FrameHeader.Flag.endHeaders), blockStream == nil,
              bytes.count - size >= header.length, header.length <= maxHeaderBlockBytes,
              header.isPlausible(maxLength: 1 << 24 - 1) else { return nil }
        var start = size, end = size + header.length
        if header.has(HTTP2FrameHeader.Flag.padded) {
            end -= Int(bytes[size])
            start += 1
        }
        if header.has(HTTP2FrameHeader.Flag.priority) { start += 5 }
        guard start <= end else { return nil }
        sink.headerBlock(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), stream: header.streamID,
                         endStream: header.has(HTTP2FrameHeader.Flag.endStream), isPushPromise: false,
                         first: timing, last: timing, from: direction)
        return size + header.length
    }

    /// Adds a HEADERS/PUSH_PROMISE/CONTINUATION payload to the block in progress.
    private mutating func appendFragment<S: HTTP2FrameSink>(timing: CallTiming, sink: inout S) {
        let f = frame
        guard let stream = blockStream, f.type != .continuation || f.streamID == stream else {
            // A CONTINUATION with no block in progress (or for another stream).
            if blockStream != nil { finishBlock(lost: true, sink: &sink) }
            sink.headerBlockLost(stream: nil, endStream: false, tooLarge: false, from: direction)
            return
        }
        if payloadLost {
            blockLost = true
        } else if !blockLost {
            var start = 0, end = payload.count
            if f.type != .continuation && f.has(HTTP2FrameHeader.Flag.padded) {
                guard end >= 1 else { blockLost = true; return finishIfEnded(f, timing: timing, sink: &sink) }
                end -= Int(payload[0])
                start = 1
            }
            if f.type == .headers && f.has(HTTP2FrameHeader.Flag.priority) { start += 5 }
            if f.type == .pushPromise { start += 4 }
            if start > end {
                blockLost = true
            } else if block.count + (end - start) > maxHeaderBlockBytes {
                blockLost = true
                blockTooLarge = true
                block.removeAll(keepingCapacity: false)  // nothing of it is decoded now
            } else {
                block.append(contentsOf: payload[start..<end])
            }
        }
        finishIfEnded(f, timing: timing, sink: &sink)
    }

    private mutating func finishIfEnded<S: HTTP2FrameSink>(_ f: HTTP2FrameHeader, timing: CallTiming, sink: inout S) {
        guard f.has(HTTP2FrameHeader.Flag.endHeaders) else { return }
        guard let stream = blockStream else { return }
        if blockLost {
            finishBlock(lost: true, sink: &sink)
        } else {
            block.withUnsafeBytes { bytes in
                sink.headerBlock(bytes, stream: stream, endStream: blockEndStream, isPushPromise: blockIsPush,
                                 first: blockFirst, last: timing, from: direction)
            }
            blockStream = nil
        }
    }

    private mutating func finishBlock<S: HTTP2FrameSink>(lost: Bool, sink: inout S) {
        guard let stream = blockStream else { return }
        blockStream = nil
        if lost {
            sink.headerBlockLost(stream: blockIsPush ? nil : stream, endStream: blockEndStream, tooLarge: blockTooLarge,
                                 from: direction)
        }
    }

    /// The connection closed: a header block still in progress is lost.
    mutating func finish<S: HTTP2FrameSink>(sink: inout S) {
        finishBlock(lost: true, sink: &sink)
    }

    private mutating func loseSync<S: HTTP2FrameSink>(sink: inout S) {
        if blockStream != nil { finishBlock(lost: true, sink: &sink) }
        state = .lost
        headerBytes.removeAll(keepingCapacity: true)
        payload.removeAll(keepingCapacity: false)
        sink.lostSync(from: direction)
    }

    private static func uint32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}
