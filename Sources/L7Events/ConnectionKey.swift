/// One connection as one process reached it. `connectionID` is the socket's
/// (the same for every fd and process that reach it; a new socket has a new
/// one); `tgid` is the process that made the event.
public struct ConnectionKey: Hashable, Sendable, CustomStringConvertible {
    public var tgid: UInt32
    public var connectionID: UInt64

    public init(tgid: UInt32, connectionID: UInt64) {
        self.tgid = tgid
        self.connectionID = connectionID
    }

    public var description: String { "\(tgid)/\(connectionID)" }
}
