/// Follows the chunks of one direction's read/write calls to find the
/// holes: bytes a call moved that the capture did not keep (a bounded
/// prefix, or chunks lost on the way).
struct CallCursor {
    struct Placement {
        /// Missing bytes of the call before this chunk.
        var leadingHole: Int
        /// The chunk is the first of a call (a likely message boundary).
        var startsCall: Bool
        /// Missing bytes of the call after this chunk (last chunk only).
        var trailingHole: Int
    }

    private var inCall = false
    /// Bytes of the current call accounted for so far.
    private var position = 0

    mutating func place(offset: Int, count: Int, returnedLength: Int, isLastChunk: Bool) -> Placement {
        let offset = max(0, offset)
        var startsCall = false
        if !inCall || offset < position {
            // A new call (or the end of the previous one was lost).
            inCall = true
            position = 0
            startsCall = true
        }
        let leading = offset - position
        position = offset + count
        var trailing = 0
        if isLastChunk {
            trailing = max(0, returnedLength - position)
            inCall = false
        }
        return Placement(leadingHole: leading, startsCall: startsCall, trailingHole: trailing)
    }
}
