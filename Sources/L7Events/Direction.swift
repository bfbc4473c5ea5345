/// Which way bytes moved, seen from the traced process.
public enum Direction: UInt8, Sendable {
    /// The process wrote or sent the bytes.
    case egress = 0
    /// The process read or received the bytes.
    case ingress = 1
}
