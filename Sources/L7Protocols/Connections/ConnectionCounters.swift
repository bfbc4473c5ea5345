/// Counters of a connection itself, not of a protocol's messages: what it
/// was found to be, and the bytes it was not parsed for. Apart from
/// `ProtocolStats` so that the check made after every event ("anything to
/// hand over?") looks at seven fields, not all of them.
struct ConnectionCounters: Equatable {
    var bytesSkipped = 0
    var ciphertextBytesIgnored = 0
    var connectionsIgnored = 0
    var tunnels = 0
    var http2Connections = 0
    var tlsInFlightAtStart = 0
    var tlsConnectionsUnreadable = 0

    /// Adds them to `stats` and starts over from zero.
    mutating func move(into stats: inout ProtocolStats) {
        stats.bytesSkipped += bytesSkipped
        stats.ciphertextBytesIgnored += ciphertextBytesIgnored
        stats.connectionsIgnored += connectionsIgnored
        stats.tunnels += tunnels
        stats.http2Connections += http2Connections
        stats.tlsInFlightAtStart += tlsInFlightAtStart
        stats.tlsConnectionsUnreadable += tlsConnectionsUnreadable
        self = ConnectionCounters()
    }
}
