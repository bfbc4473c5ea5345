import L7Events

/// TLS: ciphertext in the syscall bytes is watched until a probe gives its
/// plaintext, which starts detection over; a connection whose plaintext
/// never comes is judged unreadable once.
extension TrackedConnection {
    /// Plaintext from OpenSSL: what came before was ciphertext, so parsing
    /// starts over on the plaintext streams.
    func startPlaintext(before chunk: DataChunk) {
        let lostRequest = ciphertext?.requestLostInFlight(before: chunk) ?? false
        retireSession()
        info.isTLS = true
        ciphertext = nil
        egress = DirectionState()
        ingress = DirectionState()
        let session = HTTP1Session(connection: info, seenFromStart: seenFromStart, limits: limits)
        state = .detecting(session)
        if lostRequest {
            session.requestLostUncounted()
            counters.tlsInFlightAtStart += 1
        }
    }

    /// Follows the TLS records of the syscall bytes (see `CiphertextWatch`).
    func watchCiphertext(_ chunk: DataChunk) -> Verdict {
        counters.ciphertextBytesIgnored += chunk.bytes.count
        if ciphertext == nil { ciphertext = CiphertextWatch() }
        if ciphertext!.watch(chunk, place(chunk), alreadyJudged: judgedUnreadable) { return .suspectUnreadableTLS }
        return ciphertext!.bytes > limits.detectionScanBytes ? stopTracking(.notHTTP) : .none
    }

    /// The grace is over (or the connection ends) and no plaintext came:
    /// counted once; its bytes need not be sent any more. Whether it was judged now.
    func confirmUnreadable() -> Bool {
        guard isUnreadableSuspect, !info.isTLS, !judgedUnreadable else { return false }
        ciphertext = nil
        judgedUnreadable = true
        counters.tlsConnectionsUnreadable += 1
        if case .awaitingTLSPlaintext = state { _ = stopTracking(.unreadableTLS) }
        return true
    }
}
