import L7Events

/// What one HTTP/2 stream has carried so far, per direction (indexed by
/// `Direction.rawValue`: the traced process's writes, then its reads).
struct HTTP2Stream {
    struct Side {
        /// The first non-informational header block (request or response head).
        var head: [HPACKField]?
        /// A later header block: trailers.
        var trailers: [HPACKField]?
        /// A header block of this side was lost (hole, malformed, too large).
        var headerBlockLost = false
        var first: CallTiming?
        var last: CallTiming?
        var dataBytes = 0
        /// END_STREAM seen.
        var ended = false
        var messages = GRPCMessageCounter()

        var seen: Bool { head != nil || headerBlockLost || first != nil }

        mutating func touch(_ first: CallTiming, _ last: CallTiming) {
            if self.first == nil { self.first = first }
            self.last = last
        }
    }

    let id: UInt32
    var sides = [Side(), Side()]
    var resetCode: UInt32?
    /// The peer's GOAWAY said it never processed this stream.
    var refused = false

    init(id: UInt32) { self.id = id }

    subscript(direction: Direction) -> Side {
        get { sides[Int(direction.rawValue)] }
        set { sides[Int(direction.rawValue)] = newValue }
    }
}

extension Array where Element == HPACKField {
    /// The value of the first field named `name` (lowercase, as HTTP/2 requires).
    func value(_ name: String) -> String? {
        first { $0.name == name }?.value
    }

    func has(_ name: String) -> Bool { contains { $0.name == name } }

    /// Fields whose name or value the capture could not decode.
    var hasUnknown: Bool { contains { $0.name == nil || $0.value == nil } }
}
