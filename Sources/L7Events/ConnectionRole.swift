/// Which end of a TCP connection the traced process holds.
public enum ConnectionRole: UInt8, Sendable {
    /// Opened before the tracer, or not yet inferred.
    case unknown = 0
    /// The process called `connect`.
    case client = 1
    /// The process got the socket from `accept`.
    case server = 2
}
