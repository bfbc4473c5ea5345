import L7Events

/// What one HTTP/2 stream has carried so far, per direction (the traced
/// process's writes, then its reads). Header blocks are kept decoded as
/// bytes in `fields`, shared by both directions; each side records which
/// fields are its head and its trailers.
struct HTTP2Stream {
    struct Side {
        /// The first non-informational header block (request or response head): indices into `fields`.
        var head: Range<Int>?
        /// A later header block: trailers.
        var trailers: Range<Int>?
        /// A header block of this side was lost (hole, malformed, too large).
        var headerBlockLost = false
        /// Some fields were left out of the header list (too large: see `HPACKHeaderList`).
        var fieldsOmitted = false
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
    /// Two stored sides rather than an array: updating one in place must not
    /// copy (or allocate) anything.
    var egress = Side()
    var ingress = Side()
    /// The decoded header blocks of both sides.
    var fields: HPACKHeaderList
    var resetCode: UInt32?
    /// The peer's GOAWAY said it never processed this stream.
    var refused = false

    init(id: UInt32, fields: HPACKHeaderList = HPACKHeaderList()) {
        self.id = id
        self.fields = fields
    }

    /// Moves the header list out (to decode into it while the stream stays in its array).
    mutating func takeFields() -> HPACKHeaderList {
        var taken = HPACKHeaderList()
        swap(&taken, &fields)
        return taken
    }

    var bothEnded: Bool { egress.ended && ingress.ended }

    subscript(direction: Direction) -> Side {
        get { direction == .egress ? egress : ingress }
        _modify {
            if direction == .egress { yield &egress } else { yield &ingress }
        }
    }
}
