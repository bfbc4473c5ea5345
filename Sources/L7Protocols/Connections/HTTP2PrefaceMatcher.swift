/// Recognises the HTTP/2 client connection preface at the start of a
/// direction, across chunk boundaries, without copying: the bytes matched
/// so far are known to be the preface's own.
struct HTTP2PrefaceMatcher {
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum Outcome: Equatable {
        /// Every byte so far matches; more are needed.
        case undecided
        case preface
        /// Not the preface: the first `replay` bytes of the preface, taken
        /// from earlier chunks, belong in front of the current chunk.
        case mismatch(replay: Int)
    }

    private(set) var matched = 0
    private(set) var isDecided = false

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        precondition(!isDecided)
        let before = matched
        for b in bytes {
            if b != Self.preface[matched] {
                isDecided = true
                return .mismatch(replay: before)
            }
            matched += 1
            if matched == Self.preface.count {
                isDecided = true
                return .preface
            }
        }
        return .undecided
    }

    /// Stops matching (a hole, or the other direction decided first).
    mutating func abandon() -> Int {
        isDecided = true
        return matched
    }
}
