/// Identity of one connection of one process. The connection id changes when
/// the kernel hands out the same fd number again, so a reused fd is a new key.
public struct ConnectionKey: Hashable, Sendable, CustomStringConvertible {
    public var tgid: UInt32
    public var connectionID: UInt64

    public init(tgid: UInt32, connectionID: UInt64) {
        self.tgid = tgid
        self.connectionID = connectionID
    }

    public var description: String { "\(tgid)/\(connectionID)" }
}
