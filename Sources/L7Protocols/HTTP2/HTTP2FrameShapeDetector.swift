/// Decides whether one direction of a connection first seen mid-way
/// carries HTTP/2, from the shape of its frames alone (there is no preface
/// to see). Starting at a call boundary, it follows frames by their
/// lengths and accepts only after `requiredFrames` consecutive headers
/// that pass `HTTP2FrameHeader.isPlausible` — type, flags, stream id,
/// length — of at least two types (a run of DATA-shaped records alone is
/// not enough), so another binary protocol is never taken for HTTP/2. One
/// implausible header restarts the count at the next call.
struct HTTP2FrameShapeDetector {
    enum Verdict { case undecided, http2 }

    static let requiredFrames = 3

    private var following = false
    private var header: [UInt8] = []
    private var payloadLeft = 0
    private(set) var validFrames = 0
    private var typesSeen: UInt16 = 0

    mutating func feed(_ bytes: UnsafeRawBufferPointer, startsCall: Bool) -> Verdict {
        if !following {
            guard startsCall else { return .undecided }
            following = true
            validFrames = 0
            typesSeen = 0
            header.removeAll(keepingCapacity: true)
            payloadLeft = 0
        }
        var i = 0
        while i < bytes.count {
            if payloadLeft > 0 {
                let take = min(payloadLeft, bytes.count - i)
                payloadLeft -= take
                i += take
                continue
            }
            let take = min(HTTP2FrameHeader.size - header.count, bytes.count - i)
            header.append(contentsOf: bytes[i..<i + take])
            i += take
            guard header.count == HTTP2FrameHeader.size else { break }
            let frame = header.withUnsafeBytes { HTTP2FrameHeader($0) }
            header.removeAll(keepingCapacity: true)
            guard frame.isPlausible() else {
                following = false
                return .undecided
            }
            validFrames += 1
            typesSeen |= 1 << UInt16(frame.rawType)
            payloadLeft = frame.length
            if validFrames >= Self.requiredFrames && typesSeen.nonzeroBitCount >= 2 { return .http2 }
        }
        return .undecided
    }

    /// Bytes the capture missed: a payload can be skipped, a header cannot.
    mutating func skipHole(_ count: Int) {
        guard following else { return }
        if header.isEmpty && count <= payloadLeft {
            payloadLeft -= count
        } else {
            following = false
        }
    }
}
