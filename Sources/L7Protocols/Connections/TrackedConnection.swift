import L7Events

/// Everything known about one connection: who holds which end, whether it
/// is TLS, what protocol it speaks, and the per-direction parsing state.
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

    /// The socket's id (the same for every fd and process that reach it).
    let id: UInt64
    /// The process and fd that last moved its bytes: its exchanges are
    /// that process's, and what the capture is told is about that fd.
    private(set) var key: ConnectionKey
    private(set) var fd: Int32
    /// Who holds the socket; the connection ends when no one does.
    var holders = ConnectionHolders()
    /// Whether any bytes were handed to it.
    private(set) var sawBytes = false
    private(set) var info: ConnectionInfo
    private(set) var detected = DetectedProtocol.undecided
    /// Whether the `.http2` verdict was given.
    private var toldHTTP2 = false
    /// The connection was seen from its start (connect/accept), so its
    /// first bytes must be a message's first bytes.
    private let seenFromStart: Bool
    private let limits: TrackerLimits

    private var egress: HTTP1Parser
    private var ingress: HTTP1Parser
    private var egressCursor = CallCursor()
    private var ingressCursor = CallCursor()
    private var egressPreface = HTTP2PrefaceMatcher()
    private var ingressPreface = HTTP2PrefaceMatcher()
    /// Timing of each direction's first call, for replaying a partial preface match.
    private var egressFirstCall: CallTiming?
    private var ingressFirstCall: CallTiming?
    private var ciphertextBytes = 0
    /// Reads the ciphertext's record headers while no plaintext has come.
    private var tlsWatch: TLSHandshakeWatch?
    /// Directions in which application-data records passed with no
    /// handshake before them (a TLS connection older than the tracer).
    private var midStreamCiphertext: Set<Direction> = []
    /// When the client's application data was first seen with no plaintext
    /// from a probe (kernel time). Cleared by plaintext. Not decided at once:
    /// a traced server may read a request together with the handshake's end
    /// (inside SSL_do_handshake, which no probe follows) and give the
    /// plaintext of its answer a moment later.
    private(set) var unreadableSuspectSinceNs: UInt64?
    /// Whether this connection was judged unreadable (once).
    private(set) var judgedUnreadable = false
    /// Application data came only with the end of the handshake (see
    /// `TLSHandshakeWatch.applicationDataWithHandshake`): judged when the
    /// connection ends, if no plaintext came by then.
    private var applicationDataWithHandshake = false

    /// Whether the connection may turn out unreadable TLS.
    var isUnreadableSuspect: Bool { unreadableSuspectSinceNs != nil || applicationDataWithHandshake }
    private(set) var stitcher: HTTP1Stitcher
    /// The HTTP/2 parser, once the preface (or, mid-connection, the shape
    /// of the frames) showed the connection speaks HTTP/2.
    private(set) var http2: HTTP2Connection?
    /// Frame-shape detection for connections seen mid-way (no preface to see).
    private var egressShape = HTTP2FrameShapeDetector()
    private var ingressShape = HTTP2FrameShapeDetector()

    init(key: ConnectionKey, fd: Int32, role: ConnectionRole, local: SocketAddress?, remote: SocketAddress?,
         seenFromStart: Bool, limits: TrackerLimits) {
        self.id = key.connectionID
        self.key = key
        self.fd = fd
        self.info = ConnectionInfo(key: key, role: role, local: local, remote: remote, isTLS: false)
        self.seenFromStart = seenFromStart && role != .unknown
        self.limits = limits
        let mode: HTTP1Parser.SeekMode = self.seenFromStart ? .detect : .resync
        self.egress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        self.ingress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        self.stitcher = HTTP1Stitcher(connection: info, maxPending: limits.maxPendingRequests)
        applyRole()
    }

    /// Bytes held in the parsers' buffers.
    var bufferedBytes: Int { egress.bufferedBytes + ingress.bufferedBytes + (http2?.bufferedBytes ?? 0) }
    var maxBufferedBytesPerDirection: Int { max(egress.bufferedBytes, ingress.bufferedBytes) }

    // MARK: - Role

    /// Sets the role from outside (open event, procfs, listening ports),
    /// unless the connection already knows it.
    func assignRole(_ role: ConnectionRole, local: SocketAddress? = nil, remote: SocketAddress? = nil) {
        if let local, info.local == nil { info.local = local }
        if let remote, info.remote == nil { info.remote = remote }
        if info.role == .unknown && role != .unknown { info.role = role }
        applyRole()
        http2?.setConnection(info)
    }

    private func applyRole() {
        switch info.role {
        case .client:
            egress.expect(.request); ingress.expect(.response)
        case .server:
            egress.expect(.response); ingress.expect(.request)
        case .unknown:
            break
        }
        stitcher.connection = info
    }

    /// Who speaks first with a request line is the client; with a status line, the server.
    private func inferRoleFromParsers() {
        guard info.role == .unknown else { return }
        if let kind = egress.kind {
            info.role = kind == .request ? .client : .server
        } else if let kind = ingress.kind {
            info.role = kind == .request ? .server : .client
        } else {
            return
        }
        applyRole()
    }

    // MARK: - Holders

    /// Another process or fd moves the bytes now (a forked child serving
    /// the connection its parent accepted, fd 1 after fd 0): its exchanges
    /// are attributed to that process. Returns what the capture was told
    /// about the connection, to be told again: the kernel keeps it per fd.
    func moveTo(_ key: ConnectionKey, fd: Int32) -> [Verdict] {
        holders.noteUse(key.tgid)
        guard key != self.key || fd != self.fd else { return [] }
        self.key = key
        self.fd = fd
        info.key = key
        stitcher.connection = info
        http2?.setConnection(info)
        var verdicts: [Verdict] = []
        if detected == .notHTTP || detected == .tunnel { verdicts.append(.ignore) }
        if info.isTLS { verdicts.append(.ignoreCiphertext) }
        if toldHTTP2 { verdicts.append(.http2) }
        return verdicts
    }

    // MARK: - Data

    func handle(_ chunk: DataChunk) -> Verdict {
        sawBytes = true
        let verdict = consume(chunk)
        if verdict == .none && detected == .http2 && !toldHTTP2 {
            toldHTTP2 = true
            return .http2
        }
        return verdict
    }

    private func consume(_ chunk: DataChunk) -> Verdict {
        switch detected {
        case .notHTTP where chunk.source == .ssl && !info.isTLS:
            // The ciphertext was judged, not the plaintext: give it its chance.
            break
        case .notHTTP, .tunnel:
            stitcher.stats.bytesSkipped += chunk.bytes.count
            return .none
        case .undecided, .http1, .http2, .awaitingTLSPlaintext:
            break
        }
        var verdict = Verdict.none
        if chunk.source == .ssl {
            if !info.isTLS {
                let lostRequest = requestLostInFlight(before: chunk)
                startPlaintext()
                if lostRequest {
                    stitcher.requestLostUncounted()
                    stitcher.stats.tlsInFlightAtStart += 1
                }
                verdict = .ignoreCiphertext
            }
        } else if info.isTLS {
            stitcher.stats.ciphertextBytesIgnored += chunk.bytes.count
            return .none
        } else if detected == .awaitingTLSPlaintext
                    || (detected == .undecided && isFirstCall(chunk.direction) && Self.looksLikeTLSRecord(chunk)) {
            detected = .awaitingTLSPlaintext
            ciphertextBytes += max(chunk.bytes.count, chunk.returnedLength - chunk.offset)
            stitcher.stats.ciphertextBytesIgnored += chunk.bytes.count
            switch watchCiphertext(chunk) {
            case .applicationData where unreadableSuspectSinceNs == nil && !judgedUnreadable:
                unreadableSuspectSinceNs = chunk.exitNs
                return .suspectUnreadableTLS
            case .applicationData:
                break
            case .midStream:
                midStreamCiphertext.insert(chunk.direction)
            case .watching, .notHandshake:
                break
            }
            return ciphertextBytes > limits.detectionScanBytes ? stopTracking(as: .notHTTP) : .none
        }

        let timing = CallTiming(enterNs: chunk.enterNs, exitNs: chunk.exitNs)
        if let http2 {
            feedHTTP2(http2, chunk, timing: timing)
            return verdict
        }
        switch chunk.direction {
        case .egress:
            let placement = egressCursor.place(offset: chunk.offset, count: chunk.bytes.count,
                                               returnedLength: chunk.returnedLength, isLastChunk: chunk.isLastChunk)
            if egressFirstCall == nil { egressFirstCall = timing }
            consume(chunk.bytes, placement, timing, parser: &egress, preface: &egressPreface,
                    firstCall: egressFirstCall!, direction: .egress)
            if chunk.isLastChunk { egress.callEnded(sink: &stitcher) }
        case .ingress:
            let placement = ingressCursor.place(offset: chunk.offset, count: chunk.bytes.count,
                                                returnedLength: chunk.returnedLength, isLastChunk: chunk.isLastChunk)
            if ingressFirstCall == nil { ingressFirstCall = timing }
            consume(chunk.bytes, placement, timing, parser: &ingress, preface: &ingressPreface,
                    firstCall: ingressFirstCall!, direction: .ingress)
            if chunk.isLastChunk { ingress.callEnded(sink: &stitcher) }
        }
        let after = afterParsing()
        return after == .none ? verdict : after
    }

    /// The first plaintext of a connection older than the tracer is a
    /// response, and ciphertext came the other way before it: that request
    /// was read by an SSL_read already under way when the probes attached
    /// (its entry never seen, so its plaintext cannot be had).
    private func requestLostInFlight(before chunk: DataChunk) -> Bool {
        let other: Direction = chunk.direction == .egress ? .ingress : .egress
        guard midStreamCiphertext.contains(other), chunk.offset == 0 else { return false }
        return chunk.bytes.count >= 5 && chunk.bytes.starts(with: "HTTP/".utf8)
    }

    /// The grace is over (or the connection ends) and no plaintext came:
    /// counted once; its bytes need not be sent any more. Whether it was judged now.
    func confirmUnreadable() -> Bool {
        guard isUnreadableSuspect, !info.isTLS, !judgedUnreadable else { return false }
        unreadableSuspectSinceNs = nil
        applicationDataWithHandshake = false
        judgedUnreadable = true
        stitcher.stats.tlsConnectionsUnreadable += 1
        if detected == .awaitingTLSPlaintext { _ = stopTracking(as: .notHTTP) }
        return true
    }

    /// Follows the TLS records of the syscall bytes (see `TLSHandshakeWatch`).
    private func watchCiphertext(_ chunk: DataChunk) -> TLSHandshakeWatch.Verdict {
        if tlsWatch == nil { tlsWatch = TLSHandshakeWatch() }
        let placement = chunk.direction == .egress
            ? egressCursor.place(offset: chunk.offset, count: chunk.bytes.count, returnedLength: chunk.returnedLength,
                                 isLastChunk: chunk.isLastChunk)
            : ingressCursor.place(offset: chunk.offset, count: chunk.bytes.count, returnedLength: chunk.returnedLength,
                                  isLastChunk: chunk.isLastChunk)
        let verdict = tlsWatch!.feed(chunk.direction, chunk.bytes, leadingHole: placement.leadingHole,
                                     startsCall: placement.startsCall, trailingHole: placement.trailingHole)
        if tlsWatch!.applicationDataWithHandshake { applicationDataWithHandshake = true }
        return verdict
    }

    private func feedHTTP2(_ http2: HTTP2Connection, _ chunk: DataChunk, timing: CallTiming) {
        let placement = chunk.direction == .egress
            ? egressCursor.place(offset: chunk.offset, count: chunk.bytes.count, returnedLength: chunk.returnedLength,
                                 isLastChunk: chunk.isLastChunk)
            : ingressCursor.place(offset: chunk.offset, count: chunk.bytes.count, returnedLength: chunk.returnedLength,
                                  isLastChunk: chunk.isLastChunk)
        http2.feed(chunk.direction, chunk.bytes, leadingHole: placement.leadingHole, startsCall: placement.startsCall,
                   trailingHole: placement.trailingHole, timing: timing)
        if info.role == .unknown && http2.role != .unknown {
            info.role = http2.role
            applyRole()
        }
    }

    /// The connection speaks HTTP/2 from here on; `bytes` (what follows the
    /// preface, or nothing) are its first frames in `direction`.
    private func startHTTP2(seenFromStart: Bool, direction: Direction, rest bytes: UnsafeRawBufferPointer,
                            trailingHole: Int, timing: CallTiming) {
        detected = .http2
        stitcher.stats.http2Connections += 1
        let connection = HTTP2Connection(connection: info, seenFromStart: seenFromStart, limits: limits)
        http2 = connection
        connection.feed(direction, bytes, leadingHole: 0, startsCall: false, trailingHole: trailingHole, timing: timing)
    }

    /// Mid-connection: whether this direction's frames have the shape of HTTP/2.
    private func detectHTTP2Shape(_ bytes: UnsafeRawBufferPointer, _ placement: CallCursor.Placement,
                                  direction: Direction) -> Bool {
        guard detected == .undecided && !seenFromStart else { return false }
        let verdict: HTTP2FrameShapeDetector.Verdict
        if direction == .egress {
            egressShape.skipHole(placement.leadingHole)
            verdict = egressShape.feed(bytes, startsCall: placement.startsCall)
            egressShape.skipHole(placement.trailingHole)
        } else {
            ingressShape.skipHole(placement.leadingHole)
            verdict = ingressShape.feed(bytes, startsCall: placement.startsCall)
            ingressShape.skipHole(placement.trailingHole)
        }
        return verdict == .http2
    }

    private func consume(_ bytes: UnsafeRawBufferPointer, _ placement: CallCursor.Placement, _ timing: CallTiming,
                         parser: inout HTTP1Parser, preface: inout HTTP2PrefaceMatcher, firstCall: CallTiming,
                         direction currentDirection: Direction) {
        if detectHTTP2Shape(bytes, placement, direction: currentDirection) {
            // The frames seen while deciding are not replayed: the readers
            // resume at the next call that starts with a frame.
            startHTTP2(seenFromStart: false, direction: currentDirection, rest: UnsafeRawBufferPointer(start: nil, count: 0),
                       trailingHole: 0, timing: timing)
            return
        }
        if placement.leadingHole > 0 {
            replayPreface(abandoning: &preface, into: &parser, firstCall: firstCall)
            parser.skipHole(placement.leadingHole, timing: timing, sink: &stitcher)
        }
        var startsCall = placement.startsCall
        if detected == .undecided && preface.matched == 0 && !preface.isDecided && placement.startsCall
            && Self.looksLikeHTTP2Settings(bytes) {
            // An HTTP/2 server may send its SETTINGS before reading the
            // client's preface: no verdict from this side, wait for the other.
            _ = preface.abandon()
            parser.skipHole(bytes.count + placement.trailingHole, timing: timing, sink: &stitcher)
            return
        }
        if !preface.isDecided {
            if detected != .undecided {
                replayPreface(abandoning: &preface, into: &parser, firstCall: firstCall)
            } else {
                let matchedBefore = preface.matched
                switch preface.feed(bytes) {
                case .undecided:
                    if placement.trailingHole > 0 {
                        replayPreface(abandoning: &preface, into: &parser, firstCall: firstCall)
                        parser.skipHole(placement.trailingHole, timing: timing, sink: &stitcher)
                    }
                    return
                case .preface:
                    let used = HTTP2PrefaceMatcher.preface.count - matchedBefore
                    startHTTP2(seenFromStart: true, direction: currentDirection,
                               rest: UnsafeRawBufferPointer(rebasing: bytes[used...]),
                               trailingHole: placement.trailingHole, timing: timing)
                    return
                case .mismatch(let replay):
                    if replay > 0 {
                        feedPreface(replay, into: &parser, firstCall: firstCall)
                        startsCall = false
                    }
                }
            }
        }
        parser.feed(bytes, timing: timing, startsCall: startsCall, sink: &stitcher)
        if placement.trailingHole > 0 {
            parser.skipHole(placement.trailingHole, timing: timing, sink: &stitcher)
        }
    }

    /// Gives the parser the preface bytes matched so far, which it has not seen.
    private func replayPreface(abandoning preface: inout HTTP2PrefaceMatcher, into parser: inout HTTP1Parser,
                               firstCall: CallTiming) {
        guard !preface.isDecided else { return }
        let matched = preface.abandon()
        if matched > 0 { feedPreface(matched, into: &parser, firstCall: firstCall) }
    }

    private func feedPreface(_ count: Int, into parser: inout HTTP1Parser, firstCall: CallTiming) {
        HTTP2PrefaceMatcher.preface.withUnsafeBytes { bytes in
            parser.feed(bytes.slice(0..<count), timing: firstCall, startsCall: true, sink: &stitcher)
        }
    }

    private func afterParsing() -> Verdict {
        if stitcher.sawNotHTTP && detected == .undecided { return stopTracking(as: .notHTTP) }
        if detected == .undecided {
            if egress.hasSeenMessage || ingress.hasSeenMessage {
                detected = .http1
                egress.connectionIsHTTP()
                ingress.connectionIsHTTP()
            } else if egress.skippedBeforeFirstMessage + ingress.skippedBeforeFirstMessage > limits.detectionScanBytes {
                return stopTracking(as: .notHTTP)
            }
        }
        inferRoleFromParsers()
        if stitcher.sawSwitch {
            stitcher.stats.tunnels += 1
            return stopTracking(as: .tunnel)
        }
        return .none
    }

    /// Plaintext from OpenSSL: what came before was ciphertext, so parsing
    /// starts over on the plaintext streams.
    private func startPlaintext() {
        info.isTLS = true
        tlsWatch = nil
        unreadableSuspectSinceNs = nil
        applicationDataWithHandshake = false
        detected = .undecided
        let mode: HTTP1Parser.SeekMode = seenFromStart ? .detect : .resync
        egress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        ingress = HTTP1Parser(kind: nil, mode: mode, limits: limits)
        egressCursor = CallCursor()
        ingressCursor = CallCursor()
        egressPreface = HTTP2PrefaceMatcher()
        ingressPreface = HTTP2PrefaceMatcher()
        egressFirstCall = nil
        ingressFirstCall = nil
        egressShape = HTTP2FrameShapeDetector()
        ingressShape = HTTP2FrameShapeDetector()
        http2 = nil
        stitcher.restart()
        applyRole()
    }

    /// Frees the parsing state; the connection stays as a small tombstone
    /// so that bytes still in flight do not start detection again.
    private func stopTracking(as state: DetectedProtocol) -> Verdict {
        detected = state
        tlsWatch = nil
        if state == .notHTTP { stitcher.stats.connectionsIgnored += 1 }
        egress = HTTP1Parser(kind: egress.kind, mode: .resync, limits: limits)
        ingress = HTTP1Parser(kind: ingress.kind, mode: .resync, limits: limits)
        egress.finish(sink: &stitcher)
        ingress.finish(sink: &stitcher)
        stitcher.discard()
        return .ignore
    }

    private func isFirstCall(_ direction: Direction) -> Bool {
        direction == .egress ? egressFirstCall == nil : ingressFirstCall == nil
    }

    /// An HTTP/2 SETTINGS frame header on stream 0 (the server's preface).
    private static func looksLikeHTTP2Settings(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 9, b[0] == 0, b[3] == 0x04, b[4] == 0, b[5] == 0, b[6] == 0, b[7] == 0, b[8] == 0 else {
            return false
        }
        let length = Int(b[1]) << 8 | Int(b[2])
        return length % 6 == 0
    }

    /// A TLS record header (handshake, alert, change cipher spec or
    /// application data; version 3.x) at the start of a call.
    private static func looksLikeTLSRecord(_ chunk: DataChunk) -> Bool {
        let b = chunk.bytes
        guard chunk.offset == 0, b.count >= 3 else { return false }
        return (0x14...0x17).contains(b[0]) && b[1] == 0x03 && b[2] <= 0x04
    }

    // MARK: - Closing

    /// The connection closed (or its process exited, or the tracer stops):
    /// bodies delimited by the close end, waiting requests are reported.
    func close() {
        // The request side first, so a request's body is complete before its response is judged.
        if ingress.kind == .request {
            ingress.finish(sink: &stitcher)
            egress.finish(sink: &stitcher)
        } else {
            egress.finish(sink: &stitcher)
            ingress.finish(sink: &stitcher)
        }
        stitcher.flush()
        http2?.close()
    }

    /// Forgets the connection without reporting anything more (eviction).
    func discard() {
        stitcher.discard()
        http2?.discard()
    }

    /// Lends the tracker's spare buffers to this connection's HTTP/1 queues, before it is fed.
    func borrow(_ spares: inout HTTP1SpareBuffers) { stitcher.borrow(&spares) }

    /// Takes them back once drained (an idle connection keeps no buffer).
    func giveBack(_ spares: inout HTTP1SpareBuffers) { stitcher.giveBack(&spares) }

    /// Hands over the exchanges and counters gathered since the last call.
    func drain(into stats: inout ProtocolStats, http2 http2Stats: inout ProtocolStats, emit: (Exchange) -> Void) {
        if !stitcher.ready.isEmpty {
            // Taken out of the stitcher and popped one by one (reversed
            // first, to keep their order), so each exchange is moved to
            // `emit`, never copied.
            var ready: [Exchange] = []
            swap(&ready, &stitcher.ready)
            ready.reverse()
            while let exchange = ready.popLast() { emit(exchange) }
            if ready.capacity <= 16 {
                ready.removeAll(keepingCapacity: true)
                swap(&ready, &stitcher.ready)
            }
        }
        if stitcher.stats != ProtocolStats() {
            stats.add(stitcher.stats)
            stitcher.stats = ProtocolStats()
        }
        http2?.drain(into: &stats, http2: &http2Stats, emit: emit)
    }
}
