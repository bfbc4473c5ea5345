import L7Events

/// Turns capture events into HTTP exchanges: keeps one `TrackedConnection`
/// per connection id (per socket, whichever processes and fds reach it),
/// detects what each speaks, parses and stitches HTTP/1.x, and reports what
/// it could not (in `stats`).
///
/// Not thread-safe: one consumer drives it, in event order.
public final class ConnectionTracker {
    public let limits: TrackerLimits
    /// Local ports known to be listening: a connection of unknown role whose
    /// local port is in the set is the server end; whose remote port is, the client end.
    public var listeningPorts: Set<UInt16> = []
    /// Called once when a connection turns out not to be HTTP or becomes a
    /// tunnel: the capture should stop sending its bytes.
    public var onIgnore: ((ConnectionKey, Int32) -> Void)?
    /// Called once when OpenSSL plaintext is first seen on a connection: its
    /// syscall bytes are ciphertext from now on and may stop being sent.
    public var onIgnoreCiphertext: ((ConnectionKey, Int32) -> Void)?
    /// Called once when a connection turns out to speak HTTP/2: the capture
    /// should send its large calls whole, so that the frame headers after a
    /// large DATA run are not lost in a hole.
    public var onHTTP2: ((ConnectionKey, Int32) -> Void)?
    /// Called once per connection that did a TLS handshake and then carried
    /// application data no probe gave the plaintext of within
    /// `unreadableTLSGraceNs` (then `onIgnore`), or before it closed.
    public var onUnreadableTLS: ((ConnectionInfo) -> Void)?
    /// How long a connection's plaintext may lag behind its application
    /// data's ciphertext before it is judged unreadable.
    public var unreadableTLSGraceNs: UInt64 = 500_000_000
    /// Called when a request head is parsed on a client connection, before
    /// its exchange is emitted: its span's identity can be fixed then.
    public var onRequestStarted: ((RequestStarted) -> Void)?
    /// Counters of every protocol (HTTP/2's included).
    public private(set) var stats = ProtocolStats()
    /// The HTTP/2 part of `stats` (what remains is HTTP/1's and the connections').
    public private(set) var http2Stats = ProtocolStats()

    var table: ConnectionTable
    /// Queue buffers lent to the connection being fed (see `HTTP1SpareBuffers`).
    private var spares = HTTP1SpareBuffers()
    /// Connections suspected of unreadable TLS, waiting out the grace.
    private var tlsSuspects: [ConnectionKey] = []

    public init(limits: TrackerLimits = .init()) {
        self.limits = limits
        self.table = ConnectionTable(capacity: limits.maxConnections)
    }

    /// Connections currently tracked (including small tombstones of ignored ones).
    public var trackedConnections: Int { table.count }

    public func handle(_ event: CaptureEvent, emit: (Exchange) -> Void) {
        switch event {
        case .open(let opened):
            if let known = table.lookup(opened.key.connectionID) {
                // Another fd now names a socket already tracked (dup, an fd
                // inherited across fork, an entry the kernel evicted): the same connection.
                known.holders.add(opened.key.tgid)
                known.assignRole(opened.role, local: opened.local, remote: opened.remote)
                return
            }
            let connection = track(opened.key, fd: opened.fd, role: opened.role, local: opened.local,
                                   remote: opened.remote, seenFromStart: opened.role != .unknown)
            connection.holders.add(opened.key.tgid)
            drain(connection, emit: emit)

        case .data(let chunk):
            if chunk.bytes.isEmpty && chunk.returnedLength <= chunk.offset { return }
            let connection = table.lookup(chunk.key.connectionID)
                ?? track(chunk.key, fd: chunk.fd, role: .unknown, local: nil, remote: nil, seenFromStart: false)
            for repeated in connection.moveTo(chunk.key, fd: chunk.fd) { tell(repeated, about: connection) }
            let verdict = connection.handle(chunk, spares: &spares)
            drain(connection, emit: emit)
            tell(verdict, about: connection)

        case .close(let closed):
            guard let connection = table.peek(closed.key.connectionID) else { return }
            connection.holders.release(closed.key.tgid)
            // The socket lives on in another fd: the connection goes on while
            // a process we know holds it, or while nothing was said on it yet
            // (a forking server's parent closes its copy before the child
            // reads). Otherwise no one we know uses it any more: it ends here.
            if closed.shared && (!connection.holders.isEmpty || !connection.sawBytes) { return }
            table.remove(connection.id)
            judgeAtEnd(connection)
            connection.close()
            drain(connection, emit: emit)

        case .processExited(let exited):
            processExited(exited.tgid, emit: emit)

        case .processStarted, .processForked:
            break
        }
    }

    private func drain(_ connection: TrackedConnection, emit: (Exchange) -> Void) {
        if let onRequestStarted {
            connection.drain(into: &stats, http2: &http2Stats, spares: &spares, started: onRequestStarted, emit: emit)
        } else {
            connection.drain(into: &stats, http2: &http2Stats, spares: &spares, emit: emit)
        }
    }

    private func tell(_ verdict: TrackedConnection.Verdict, about connection: TrackedConnection) {
        switch verdict {
        case .none: break
        case .ignore: onIgnore?(connection.key, connection.fd)
        case .ignoreCiphertext: onIgnoreCiphertext?(connection.key, connection.fd)
        case .http2: onHTTP2?(connection.key, connection.fd)
        case .suspectUnreadableTLS: tlsSuspects.append(connection.key)
        }
    }

    /// Ends every connection that only this process held: exit closes its
    /// sockets without close() calls. One that another process holds too
    /// (a child serving what its parent accepted) goes on.
    public func processExited(_ tgid: UInt32, emit: (Exchange) -> Void) {
        for id in table.ids(heldBy: tgid) {
            guard let connection = table.peek(id) else { continue }
            connection.holders.remove(tgid)
            guard connection.holders.isEmpty else { continue }
            table.remove(id)
            judgeAtEnd(connection)
            connection.close()
            drain(connection, emit: emit)
        }
    }

    /// Whether a burst of connections left capacity `releaseSpareCapacity` would give back. O(1).
    public var holdsSpareCapacity: Bool { table.isSparse }

    /// Gives back what a burst of connections grew, now that most are gone
    /// (the connection table's slots and index). Call it on a timer or when
    /// a burst has ended, never per event: it costs O(connections tracked).
    public func releaseSpareCapacity() {
        table.shrinkIfSparse()
        spares = HTTP1SpareBuffers()
    }

    /// Closes out every connection (on shutdown): bodies delimited by the
    /// close end, requests without a response are reported as such.
    public func flushAll(emit: (Exchange) -> Void) {
        for key in table.allKeys {
            guard let connection = table.remove(key) else { continue }
            judgeAtEnd(connection)
            connection.close()
            drain(connection, emit: emit)
        }
    }

    /// Judges the suspects whose grace is over (call it on every poll, with
    /// the kernel's clock: CLOCK_MONOTONIC).
    public func judgeUnreadableTLS(nowNs: UInt64) {
        guard !tlsSuspects.isEmpty else { return }
        tlsSuspects.removeAll { key in
            guard let connection = table.peek(key.connectionID), let since = connection.unreadableSuspectSinceNs else { return true }
            guard nowNs >= since &+ unreadableTLSGraceNs else { return false }
            judge(connection, stopBytes: true)
            return true
        }
    }

    /// A connection ending while suspected: no plaintext came at all.
    private func judgeAtEnd(_ connection: TrackedConnection) {
        if connection.isUnreadableSuspect { judge(connection, stopBytes: false) }
    }

    private func judge(_ connection: TrackedConnection, stopBytes: Bool) {
        guard connection.confirmUnreadable() else { return }
        // Only counters to hand over: no message is parsed while awaiting plaintext.
        connection.drain(into: &stats, http2: &http2Stats, spares: &spares, emit: { _ in })
        onUnreadableTLS?(connection.info)
        if stopBytes { onIgnore?(connection.key, connection.fd) }
    }

    private func track(_ key: ConnectionKey, fd: Int32, role: ConnectionRole, local: SocketAddress?,
                       remote: SocketAddress?, seenFromStart: Bool) -> TrackedConnection {
        var role = role
        if role == .unknown {
            if let port = local?.port, listeningPorts.contains(port) {
                role = .server
            } else if let port = remote?.port, listeningPorts.contains(port) {
                role = .client
            }
        }
        let connection = TrackedConnection(key: key, fd: fd, role: role, local: local, remote: remote,
                                           seenFromStart: seenFromStart, limits: limits)
        stats.connectionsTracked += 1
        if let evicted = table.insert(connection) {
            evicted.discard()
            stats.connectionsEvicted += 1
            evicted.drain(into: &stats, http2: &http2Stats, spares: &spares, emit: { _ in })
        }
        return connection
    }
}
