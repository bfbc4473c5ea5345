import L7Events

/// What the syscall bytes of a connection that starts with TLS records
/// show while no plaintext has come from a probe: whether application data
/// passes that no probe follows (an unreadable TLS stack), and whether a
/// request was read before the probes attached.
struct CiphertextWatch {
    /// Ciphertext bytes seen while waiting (the detection budget).
    private(set) var bytes = 0
    /// Reads the ciphertext's record headers while no plaintext has come.
    private var records = TLSHandshakeWatch()
    /// Directions in which application-data records passed with no
    /// handshake before them (a TLS connection older than the tracer).
    private var midStream: Set<Direction> = []
    /// When the client's application data was first seen with no plaintext
    /// from a probe (kernel time). Not decided at once: a traced server may
    /// read a request together with the handshake's end (inside
    /// SSL_do_handshake, which no probe follows) and give the plaintext of
    /// its answer a moment later.
    private(set) var suspectSinceNs: UInt64?
    /// Application data came only with the end of the handshake (see
    /// `TLSHandshakeWatch.applicationDataWithHandshake`): judged when the
    /// connection ends, if no plaintext came by then.
    private var applicationDataWithHandshake = false

    /// Whether the connection may turn out unreadable TLS.
    var isSuspect: Bool { suspectSinceNs != nil || applicationDataWithHandshake }

    /// Follows one chunk's records. Returns true when the connection becomes
    /// a suspect (once; `alreadyJudged` suppresses it).
    mutating func watch(_ chunk: DataChunk, _ placement: CallCursor.Placement, alreadyJudged: Bool) -> Bool {
        bytes += max(chunk.bytes.count, chunk.returnedLength - chunk.offset)
        let verdict = records.feed(chunk.direction, chunk.bytes, leadingHole: placement.leadingHole,
                                   startsCall: placement.startsCall, trailingHole: placement.trailingHole)
        if records.applicationDataWithHandshake { applicationDataWithHandshake = true }
        switch verdict {
        case .applicationData where suspectSinceNs == nil && !alreadyJudged:
            suspectSinceNs = chunk.exitNs
            return true
        case .midStream:
            midStream.insert(chunk.direction)
        case .applicationData, .watching, .notHandshake:
            break
        }
        return false
    }

    /// The first plaintext of a connection older than the tracer is a
    /// response, and ciphertext came the other way before it: that request
    /// was read by an SSL_read already under way when the probes attached
    /// (its entry never seen, so its plaintext cannot be had).
    func requestLostInFlight(before chunk: DataChunk) -> Bool {
        let other: Direction = chunk.direction == .egress ? .ingress : .egress
        guard midStream.contains(other), chunk.offset == 0 else { return false }
        return chunk.bytes.count >= 5 && chunk.bytes.starts(with: "HTTP/".utf8)
    }

    /// A TLS record header (handshake, alert, change cipher spec or
    /// application data; version 3.x) at the start of a call.
    static func looksLikeTLSRecord(_ chunk: DataChunk) -> Bool {
        let b = chunk.bytes
        guard chunk.offset == 0, b.count >= 3 else { return false }
        return (0x14...0x17).contains(b[0]) && b[1] == 0x03 && b[2] <= 0x04
    }
}
