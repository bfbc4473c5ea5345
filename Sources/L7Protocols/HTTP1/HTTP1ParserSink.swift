/// Why a parser gave up on a message.
enum HTTP1DropReason: Sendable, Equatable {
    /// Bytes missing from the capture fell in the head or chunked framing.
    case hole
    /// The head or framing was invalid.
    case malformed
    /// The head was longer than `TrackerLimits.maxHeadBytes`.
    case oversized
}

/// What the request a response answers says about that response's body.
enum HTTP1RequestContext: Sendable, Equatable {
    case ordinary
    /// Responses to HEAD have no body.
    case head
    /// A 2xx response to CONNECT turns the connection into a tunnel.
    case connect
}

/// Where one direction's parser reports what it found. The stitcher is the
/// sink; it pairs requests with responses and keeps the counters.
protocol HTTP1ParserSink {
    /// A request head was parsed (its body, if any, follows). Heads are
    /// handed over (`consuming`), never copied: a copy retains every buffer.
    mutating func requestBegan(_ head: consuming HTTPRequestHead, timing: MessageTiming)
    /// A final (non-1xx) response head was parsed; the answer frames its body.
    mutating func responseBegan(_ head: consuming HTTPResponseHead, timing: MessageTiming) -> HTTP1RequestContext
    /// The message begun last in this direction is complete.
    mutating func messageCompleted(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming)
    /// A hole fell in the chunked framing of the message begun last: it
    /// will still complete, later than its partner perhaps. `bodySize`:
    /// the body's size if the hole came after it (in trailers), else nil.
    mutating func framingLost(_ kind: HTTP1StartLine.Kind, bodySize: Int?)
    /// The connection closed before the message begun last was complete.
    mutating func messageIncomplete(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming)
    /// A message was given up. `headReported` says whether `requestBegan`/
    /// `responseBegan` was called for it.
    mutating func messageDropped(_ kind: HTTP1StartLine.Kind, reason: HTTP1DropReason, headReported: Bool,
                                 timing: MessageTiming)
    /// The parser lost its place between messages — bytes missing from the
    /// capture, or bytes that are not a start line where one must begin —
    /// so whole messages may be missing from this direction.
    mutating func lostSync(_ kind: HTTP1StartLine.Kind?, unexpectedBytes: Bool)
    /// Bytes passed over while looking for a start line.
    mutating func skipped(_ count: Int)
    /// The first bytes of the connection are not HTTP/1.
    mutating func notHTTP()
    /// The connection switched protocols (101, or 2xx to CONNECT).
    mutating func switchedProtocols()
}
