import L7Events

/// Detection while a connection's bytes go to its HTTP/1 session: the
/// HTTP/2 client preface (matched across chunks, replayed into the HTTP/1
/// parser when it turns out not to be one), an HTTP/2 server's SETTINGS
/// sent before the client's preface, and, on connections seen mid-way,
/// the shape of HTTP/2 frames.
extension TrackedConnection {
    func feedHTTP1(_ session: HTTP1Session, _ bytes: UnsafeRawBufferPointer, _ placement: CallCursor.Placement,
                   _ timing: CallTiming, direction: Direction, state side: inout DirectionState) {
        let detecting: Bool
        if case .detecting = state { detecting = true } else { detecting = false }
        if detecting && !seenFromStart && Self.hasHTTP2Shape(bytes, placement, &side.shape) {
            // The frames seen while deciding are not replayed: the readers
            // resume at the next call that starts with a frame.
            startHTTP2(seenFromStart: false, direction: direction, rest: UnsafeRawBufferPointer(start: nil, count: 0),
                       trailingHole: 0, timing: timing)
            return
        }
        let firstCall = side.firstCall ?? timing
        if placement.leadingHole > 0 {
            replayPreface(&side.preface, into: session, direction, firstCall: firstCall)
            session.skipHole(direction, placement.leadingHole, timing: timing)
        }
        var startsCall = placement.startsCall
        if detecting && side.preface.matched == 0 && !side.preface.isDecided && placement.startsCall
            && Self.looksLikeHTTP2Settings(bytes) {
            // An HTTP/2 server may send its SETTINGS before reading the
            // client's preface: no verdict from this side, wait for the other.
            _ = side.preface.abandon()
            session.skipHole(direction, bytes.count + placement.trailingHole, timing: timing)
            return
        }
        if !side.preface.isDecided {
            if !detecting {
                replayPreface(&side.preface, into: session, direction, firstCall: firstCall)
            } else {
                let matchedBefore = side.preface.matched
                switch side.preface.feed(bytes) {
                case .undecided:
                    if placement.trailingHole > 0 {
                        replayPreface(&side.preface, into: session, direction, firstCall: firstCall)
                        session.skipHole(direction, placement.trailingHole, timing: timing)
                    }
                    return
                case .preface:
                    let used = HTTP2PrefaceMatcher.preface.count - matchedBefore
                    startHTTP2(seenFromStart: true, direction: direction,
                               rest: UnsafeRawBufferPointer(rebasing: bytes[used...]),
                               trailingHole: placement.trailingHole, timing: timing)
                    return
                case .mismatch(let replay):
                    if replay > 0 {
                        feedPreface(replay, into: session, direction, firstCall: firstCall)
                        startsCall = false
                    }
                }
            }
        }
        session.feed(direction, bytes, timing: timing, startsCall: startsCall)
        session.skipHole(direction, placement.trailingHole, timing: timing)
    }

    /// Mid-connection: whether this direction's frames have the shape of HTTP/2.
    private static func hasHTTP2Shape(_ bytes: UnsafeRawBufferPointer, _ placement: CallCursor.Placement,
                                      _ shape: inout HTTP2FrameShapeDetector) -> Bool {
        shape.skipHole(placement.leadingHole)
        let verdict = shape.feed(bytes, startsCall: placement.startsCall)
        shape.skipHole(placement.trailingHole)
        return verdict == .http2
    }

    /// Gives the parser the preface bytes matched so far, which it has not seen.
    private func replayPreface(_ preface: inout HTTP2PrefaceMatcher, into session: HTTP1Session,
                               _ direction: Direction, firstCall: CallTiming) {
        guard !preface.isDecided else { return }
        let matched = preface.abandon()
        if matched > 0 { feedPreface(matched, into: session, direction, firstCall: firstCall) }
    }

    private func feedPreface(_ count: Int, into session: HTTP1Session, _ direction: Direction, firstCall: CallTiming) {
        HTTP2PrefaceMatcher.preface.withUnsafeBytes { bytes in
            session.feed(direction, bytes.slice(0..<count), timing: firstCall, startsCall: true)
        }
    }

    /// An HTTP/2 SETTINGS frame header on stream 0 (the server's preface).
    private static func looksLikeHTTP2Settings(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 9, b[0] == 0, b[3] == 0x04, b[4] == 0, b[5] == 0, b[6] == 0, b[7] == 0, b[8] == 0 else {
            return false
        }
        let length = Int(b[1]) << 8 | Int(b[2])
        return length % 6 == 0
    }
}
