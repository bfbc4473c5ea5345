import L7Events

/// The tests' window into the tracker (through `@testable import`): what a
/// connection was found to carry and hold, and the memory the tracker keeps.
/// Nothing in the pipeline calls these.
extension ConnectionTracker {
    /// Gives a connection its role when something outside the byte stream
    /// knows it (procfs socket tables, for sockets older than the tracer).
    func assignRole(_ role: ConnectionRole, for key: ConnectionKey,
                    local: SocketAddress? = nil, remote: SocketAddress? = nil) {
        table.lookup(key.connectionID)?.assignRole(role, local: local, remote: remote)
    }

    /// Slots the connection table holds (for tests of shrinking).
    var connectionSlots: Int { table.slotCount }

    /// Bytes held in parser buffers across all connections (for tests of boundedness).
    var bufferedBytes: Int { table.allKeys.reduce(0) { $0 + (table.peek($1)?.bufferedBytes ?? 0) } }

    /// The largest buffer of any one direction (for tests of boundedness).
    var maxBufferedBytesPerDirection: Int {
        table.allKeys.reduce(0) { max($0, table.peek($1)?.maxBufferedBytesPerDirection ?? 0) }
    }

    /// What one connection holds of messages waiting for their partners
    /// (tests: memory that a hostile peer must not be able to grow).
    func heldMessages(of key: ConnectionKey) -> (requestHeads: Int, queueEntries: Int, http2HeaderBytes: Int)? {
        guard let connection = table.peek(key.connectionID) else { return nil }
        switch connection.state {
        case .detecting(let session), .http1(let session):
            return (session.requests.heldHeads, session.requests.entries, 0)
        case .http2(let session):
            return (0, 0, session.stitcher.heldHeaderBytes)
        case .awaitingTLSPlaintext, .ignored:
            return (0, 0, 0)
        }
    }

    func detectedProtocol(of key: ConnectionKey) -> DetectedProtocol? {
        table.lookup(key.connectionID)?.detected
    }

    /// What is known about a tracked connection.
    func connectionInfo(of key: ConnectionKey) -> ConnectionInfo? {
        table.lookup(key.connectionID)?.info
    }
}
