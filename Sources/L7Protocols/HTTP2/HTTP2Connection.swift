import L7Events

/// The HTTP/2 side of one tracked connection: a frame reader per direction
/// feeding one stitcher (which owns both HPACK contexts and the streams).
final class HTTP2Connection {
    private var egress: HTTP2FrameReader
    private var ingress: HTTP2FrameReader
    private(set) var stitcher: HTTP2Stitcher

    /// - Parameter seenFromStart: the preface was seen, so both HPACK tables
    ///   start empty and both readers at a frame boundary. Otherwise the
    ///   readers wait for a call that starts with a frame, and the tables
    ///   are unknown until the peers' insertions replace them.
    init(connection: ConnectionInfo, seenFromStart: Bool, limits: TrackerLimits) {
        egress = HTTP2FrameReader(direction: .egress, maxHeaderBlockBytes: limits.maxHeadBytes, inSync: seenFromStart)
        ingress = HTTP2FrameReader(direction: .ingress, maxHeaderBlockBytes: limits.maxHeadBytes, inSync: seenFromStart)
        stitcher = HTTP2Stitcher(connection: connection, seenFromStart: seenFromStart,
                                 maxStreams: max(limits.maxPendingRequests, 1024))
    }

    var role: ConnectionRole { stitcher.connection.role }
    var bufferedBytes: Int { egress.bufferedBytes + ingress.bufferedBytes }

    func setConnection(_ info: ConnectionInfo) {
        let role = stitcher.connection.role
        stitcher.connection = info
        if info.role == .unknown { stitcher.connection.role = role }
    }

    /// Bytes of one call (or a chunk of it), with the holes around them.
    func feed(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, leadingHole: Int, startsCall: Bool,
              trailingHole: Int, timing: CallTiming) {
        switch direction {
        case .egress:
            egress.skipHole(leadingHole, timing: timing, sink: &stitcher)
            egress.feed(bytes, startsCall: startsCall, timing: timing, sink: &stitcher)
            egress.skipHole(trailingHole, timing: timing, sink: &stitcher)
        case .ingress:
            ingress.skipHole(leadingHole, timing: timing, sink: &stitcher)
            ingress.feed(bytes, startsCall: startsCall, timing: timing, sink: &stitcher)
            ingress.skipHole(trailingHole, timing: timing, sink: &stitcher)
        }
    }

    func close() {
        egress.finish(sink: &stitcher)
        ingress.finish(sink: &stitcher)
        stitcher.flush()
    }
    func discard() { stitcher.discard() }

    /// Hands over the exchanges and counters gathered since the last call.
    func drain(into stats: inout ProtocolStats, http2 http2Stats: inout ProtocolStats, emit: (Exchange) -> Void) {
        if !stitcher.ready.isEmpty {
            // By index: each exchange is lent to `emit` where it lies, not copied out.
            for i in stitcher.ready.indices { emit(stitcher.ready[i]) }
            stitcher.ready.removeAll(keepingCapacity: stitcher.ready.capacity <= 64)
        }
        if stitcher.stats != ProtocolStats() {
            stats.add(stitcher.stats)
            http2Stats.add(stitcher.stats)
            stitcher.stats = ProtocolStats()
        }
    }
}
