import L7Events

/// Where a direction's `HTTP2FrameReader` reports frames. `timing` is the
/// call that carried the frame's first byte (`first`) or its last (`last`).
protocol HTTP2FrameSink {
    /// A complete header block (HEADERS or PUSH_PROMISE plus CONTINUATIONs,
    /// padding and priority removed), to be HPACK-decoded in order.
    mutating func headerBlock(_ block: UnsafeRawBufferPointer, stream: UInt32, endStream: Bool, isPushPromise: Bool,
                              first: CallTiming, last: CallTiming, from direction: Direction)
    /// A header block was lost: a hole fell in it, it was malformed, or
    /// (`tooLarge`) longer than the reader keeps.
    mutating func headerBlockLost(stream: UInt32?, endStream: Bool, tooLarge: Bool, from direction: Direction)
    /// Part of a DATA frame's data (padding excluded); `bytes` is nil for a hole of `count` bytes.
    mutating func data(_ bytes: UnsafeRawBufferPointer?, count: Int, stream: UInt32, timing: CallTiming,
                       from direction: Direction)
    /// A DATA frame ended (after its data was reported).
    mutating func dataFrameEnded(stream: UInt32, endStream: Bool, timing: CallTiming, from direction: Direction)
    mutating func rstStream(stream: UInt32, errorCode: UInt32, timing: CallTiming, from direction: Direction)
    mutating func settings(_ values: [(id: UInt16, value: UInt32)], ack: Bool, from direction: Direction)
    mutating func goaway(lastStream: UInt32, errorCode: UInt32, timing: CallTiming, from direction: Direction)
    /// The reader lost its place: frames (header blocks among them) may be missing.
    mutating func lostSync(from direction: Direction)
}
