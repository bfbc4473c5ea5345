import L7Events

/// One protocol's parsing of one connection, once detection chose the
/// protocol: HTTP/1 (`HTTP1Session`) and HTTP/2 (`HTTP2Session`) today, the
/// next protocol tomorrow. `TrackedConnection` places each call's bytes in
/// their direction's stream (the holes around them found by `CallCursor`)
/// and hands them over; the session parses, stitches, and keeps exchanges
/// and counters until they are drained.
protocol ProtocolSession: AnyObject {
    /// Bytes of one call (or a chunk of it), with the holes around them.
    func feed(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ placement: CallCursor.Placement,
              timing: CallTiming)
    /// The read or write call fed last in `direction` is over.
    func callEnded(_ direction: Direction)
    /// What is known of the connection changed (its role, addresses, or the process moving its bytes).
    func connectionChanged(_ info: ConnectionInfo)
    /// The connection closed: messages delimited by the close end, waiting requests are reported.
    func close()
    /// The connection is forgotten (evicted): nothing more is reported, losses are counted.
    func discard()
    /// Hands over the exchanges and counters gathered since the last call
    /// (`protocolStats`: the counters of this protocol alone, for HTTP/2's share).
    func drain(into stats: inout ProtocolStats, protocolStats: inout ProtocolStats, emit: (Exchange) -> Void)
    /// Hands over the client requests whose heads were parsed since the last call.
    func drainStarted(_ started: (RequestStarted) -> Void)
    /// Bytes held in parser buffers, all directions, and the most in one.
    var bufferedBytes: Int { get }
    var maxBufferedBytesPerDirection: Int { get }
}
