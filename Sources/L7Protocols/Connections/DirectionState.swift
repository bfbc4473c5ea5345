import L7Events

/// One direction of a tracked connection, below any protocol: where its
/// calls stand (holes), when its first call came, and what protocol
/// detection has seen in it so far.
struct DirectionState {
    var cursor = CallCursor()
    /// Timing of this direction's first call parsed as plaintext, for
    /// replaying a partial preface match (nil: none yet).
    var firstCall: CallTiming?
    /// The HTTP/2 client preface, matched across chunks.
    var preface = HTTP2PrefaceMatcher()
    /// Frame-shape detection, for connections seen mid-way (no preface to see).
    var shape = HTTP2FrameShapeDetector()

    @inline(__always)
    mutating func place(_ chunk: DataChunk) -> CallCursor.Placement {
        cursor.place(offset: chunk.offset, count: chunk.bytes.count, returnedLength: chunk.returnedLength,
                     isLastChunk: chunk.isLastChunk)
    }
}
