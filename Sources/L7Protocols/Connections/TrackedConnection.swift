import L7Events

/// Everything known about one connection: who holds which end, whether it
/// is TLS, what protocol it speaks, and each direction's place in its calls.
///
/// A state machine (`State`): detecting → an HTTP/1 or HTTP/2 session, or
/// ignored (with why); TLS records in the syscall bytes wait for OpenSSL's
/// plaintext, which starts detection over. How bytes are told apart while
/// detecting is in `+Detection`, the TLS wait in `+TLS`, role and holders in `+Role` (members are
/// internal for those files alone).
final class TrackedConnection {
    /// What the tracker must tell the capture after an event.
    enum Verdict {
        case none
        /// Stop sending this connection's bytes (not HTTP, or a tunnel).
        case ignore
        /// Stop sending this connection's syscall bytes: they are ciphertext.
        case ignoreCiphertext
        /// It speaks HTTP/2: send its large calls whole, so that no frame
        /// header is lost in a hole (given once).
        case http2
        /// A TLS handshake, then application data and no plaintext yet:
        /// unreadable unless plaintext comes within a grace (see
        /// `unreadableSuspectSinceNs`).
        case suspectUnreadableTLS
    }

    enum IgnoredBecause: Equatable {
        case notHTTP
        /// HTTP/1.1 that switched protocols (101) or became a CONNECT tunnel.
        case tunnel
        /// TLS whose plaintext no probe gives.
        case unreadableTLS
    }

    enum State {
        /// Nothing decided: the HTTP/1 session runs in detect mode while
        /// each direction watches for the HTTP/2 preface or frame shapes.
        case detecting(HTTP1Session)
        /// TLS records in the syscall bytes, and no plaintext from a probe yet.
        case awaitingTLSPlaintext
        case http1(HTTP1Session)
        case http2(HTTP2Session)
        /// Not parsed any more; the capture was told to stop sending its bytes.
        case ignored(IgnoredBecause)
    }

    /// The socket's id (the same for every fd and process that reach it).
    let id: UInt64
    /// The process and fd that last moved its bytes: its exchanges are
    /// that process's, and what the capture is told is about that fd.
    var key: ConnectionKey
    var fd: Int32
    /// Who holds the socket; the connection ends when no one does.
    var holders = ConnectionHolders()
    /// Whether any bytes were handed to it.
    private(set) var sawBytes = false
    var info: ConnectionInfo
    var state: State
    /// The connection was seen from its start (connect/accept), so its
    /// first bytes must be a message's first bytes.
    let seenFromStart: Bool
    let limits: TrackerLimits
    var egress = DirectionState()
    var ingress = DirectionState()
    /// Whether the `.http2` verdict was given.
    var toldHTTP2 = false
    /// Set while syscall bytes carry TLS records and no plaintext came.
    var ciphertext: CiphertextWatch?
    /// Whether this connection was judged unreadable (once).
    var judgedUnreadable = false
    /// Counters of the connection itself (not of a protocol's messages), since last drained.
    var counters = ConnectionCounters()
    /// Sessions left behind by a change of state, holding exchanges or
    /// counters still to be drained.
    private var retired: [any ProtocolSession] = []

    init(key: ConnectionKey, fd: Int32, role: ConnectionRole, local: SocketAddress?, remote: SocketAddress?,
         seenFromStart: Bool, limits: TrackerLimits) {
        self.id = key.connectionID
        self.key = key
        self.fd = fd
        self.info = ConnectionInfo(key: key, role: role, local: local, remote: remote, isTLS: false)
        self.seenFromStart = seenFromStart && role != .unknown
        self.limits = limits
        self.state = .detecting(HTTP1Session(connection: info, seenFromStart: self.seenFromStart, limits: limits))
    }

    /// What the first bytes said the connection carries.
    var detected: DetectedProtocol {
        switch state {
        case .detecting: return .undecided
        case .awaitingTLSPlaintext: return .awaitingTLSPlaintext
        case .http1: return .http1
        case .http2: return .http2
        case .ignored(.tunnel): return .tunnel
        case .ignored(.notHTTP), .ignored(.unreadableTLS): return .notHTTP
        }
    }

    /// The protocol session parsing the connection, if one does.
    var session: (any ProtocolSession)? {
        switch state {
        case .detecting(let session), .http1(let session): return session
        case .http2(let session): return session
        case .awaitingTLSPlaintext, .ignored: return nil
        }
    }

    /// Bytes held in the parsers' buffers.
    var bufferedBytes: Int { session?.bufferedBytes ?? 0 }
    var maxBufferedBytesPerDirection: Int { session?.maxBufferedBytesPerDirection ?? 0 }

    /// When the client's application data was first seen with no plaintext (kernel time).
    var unreadableSuspectSinceNs: UInt64? { ciphertext?.suspectSinceNs }
    /// Whether the connection may turn out unreadable TLS.
    var isUnreadableSuspect: Bool { ciphertext?.isSuspect ?? false }

    // MARK: - Data

    /// `spares`: buffers an HTTP/1 session may take for its queues (given
    /// back by `drain`), so an idle connection holds none.
    func handle(_ chunk: DataChunk, spares: inout HTTP1SpareBuffers) -> Verdict {
        sawBytes = true
        let verdict = consume(chunk, spares: &spares)
        if verdict == .none, case .http2 = state, !toldHTTP2 {
            toldHTTP2 = true
            return .http2
        }
        return verdict
    }

    private func consume(_ chunk: DataChunk, spares: inout HTTP1SpareBuffers) -> Verdict {
        if case .ignored(let why) = state {
            // The ciphertext was judged, not the plaintext: give it its chance.
            guard why != .tunnel, chunk.source == .ssl, !info.isTLS else {
                counters.bytesSkipped += chunk.bytes.count
                return .none
            }
        }
        var verdict = Verdict.none
        if chunk.source == .ssl {
            if !info.isTLS {
                startPlaintext(before: chunk)
                verdict = .ignoreCiphertext
            }
        } else if info.isTLS {
            counters.ciphertextBytesIgnored += chunk.bytes.count
            return .none
        } else if case .awaitingTLSPlaintext = state {
            return watchCiphertext(chunk)
        } else if case .detecting = state, isFirstCall(chunk.direction), CiphertextWatch.looksLikeTLSRecord(chunk) {
            retireSession()
            state = .awaitingTLSPlaintext
            return watchCiphertext(chunk)
        }

        let timing = CallTiming(enterNs: chunk.enterNs, exitNs: chunk.exitNs, tid: chunk.tid)
        switch state {
        case .http2(let session):
            session.feed(chunk.direction, chunk.bytes, place(chunk), timing: timing)
            if info.role == .unknown { learnRole(session.role) }
            return verdict
        case .detecting(let session), .http1(let session):
            session.borrow(&spares)
            let placement = place(chunk)
            switch chunk.direction {
            case .egress:
                if egress.firstCall == nil { egress.firstCall = timing }
                feedHTTP1(session, chunk.bytes, placement, timing, direction: .egress, state: &egress)
            case .ingress:
                if ingress.firstCall == nil { ingress.firstCall = timing }
                feedHTTP1(session, chunk.bytes, placement, timing, direction: .ingress, state: &ingress)
            }
            if chunk.isLastChunk { session.callEnded(chunk.direction) }
            let after = afterParsing(session)
            return after == .none ? verdict : after
        case .awaitingTLSPlaintext, .ignored:
            return verdict
        }
    }

    @inline(__always)
    func place(_ chunk: DataChunk) -> CallCursor.Placement {
        chunk.direction == .egress ? egress.place(chunk) : ingress.place(chunk)
    }

    func isFirstCall(_ direction: Direction) -> Bool {
        direction == .egress ? egress.firstCall == nil : ingress.firstCall == nil
    }

    /// What the HTTP/1 session found decides the state: HTTP/1, not HTTP,
    /// or a tunnel; and who is the client.
    private func afterParsing(_ session: HTTP1Session) -> Verdict {
        if case .detecting = state {
            if session.sawNotHTTP { return stopTracking(.notHTTP) }
            if session.hasSeenMessage {
                state = .http1(session)
                session.connectionIsHTTP()
            } else if session.skippedBeforeFirstMessage > limits.detectionScanBytes {
                return stopTracking(.notHTTP)
            }
        }
        guard case .http1 = state else { return .none }
        if info.role == .unknown { learnRole(session.roleFromStartLines) }
        if session.sawSwitch {
            counters.tunnels += 1
            return stopTracking(.tunnel)
        }
        return .none
    }

    // MARK: - Changes of state

    /// The connection speaks HTTP/2 from here on; `bytes` (what follows the
    /// preface, or nothing) are its first frames in `direction`.
    func startHTTP2(seenFromStart: Bool, direction: Direction, rest bytes: UnsafeRawBufferPointer,
                    trailingHole: Int, timing: CallTiming) {
        retireSession()
        counters.http2Connections += 1
        let session = HTTP2Session(connection: info, seenFromStart: seenFromStart, limits: limits)
        state = .http2(session)
        session.feed(direction, bytes, CallCursor.Placement(leadingHole: 0, startsCall: false, trailingHole: trailingHole),
                     timing: timing)
    }

    /// Frees the parsing state; the connection stays as a small tombstone
    /// so that bytes still in flight do not start detection again.
    func stopTracking(_ why: IgnoredBecause) -> Verdict {
        retireSession()
        state = .ignored(why)
        if why != .tunnel { counters.connectionsIgnored += 1 }
        return .ignore
    }

    /// The session parsing the connection is given up: what it holds is
    /// counted lost, and it waits to be drained.
    func retireSession() {
        guard let session else { return }
        session.discard()
        retired.append(session)
    }

    // MARK: - Closing and draining

    /// The connection closed (or its process exited, or the tracer stops):
    /// bodies delimited by the close end, waiting requests are reported.
    func close() { session?.close() }

    /// Forgets the connection without reporting anything more (eviction).
    func discard() { session?.discard() }

    /// Hands over the exchanges and counters gathered since the last call.
    /// `spares`: an HTTP/1 session gives back the buffers it was lent when
    /// fed (`handle(_:spares:)`) if they are empty again.
    /// `started` gets the requests (both roles) whose heads were parsed, before
    /// any exchange (a request's start always comes before its exchange).
    func drain(into stats: inout ProtocolStats, http2 http2Stats: inout ProtocolStats,
               spares: inout HTTP1SpareBuffers, started: (RequestStarted) -> Void = { _ in },
               emit: (Exchange) -> Void) {
        if !retired.isEmpty {
            for session in retired {
                session.drainStarted(started)
                session.drain(into: &stats, protocolStats: &http2Stats, emit: emit)
            }
            retired.removeAll()
        }
        if counters != ConnectionCounters() { counters.move(into: &stats) }
        // One switch, on the concrete sessions: this runs after every event.
        switch state {
        case .detecting(let session), .http1(let session):
            session.drainStarted(started)
            session.drain(into: &stats, protocolStats: &http2Stats, emit: emit)
            session.giveBack(&spares)
        case .http2(let session):
            session.drainStarted(started)
            session.drain(into: &stats, protocolStats: &http2Stats, emit: emit)
        case .awaitingTLSPlaintext, .ignored:
            break
        }
    }
}
