import L7Events

/// HTTP/2 on one connection: a frame reader per direction feeding one
/// stitcher (which owns both HPACK contexts and the streams).
final class HTTP2Session: ProtocolSession {
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

    /// The role the frames showed (who sent the preface or HEADERS on odd streams).
    var role: ConnectionRole { stitcher.connection.role }
    var bufferedBytes: Int { egress.bufferedBytes + ingress.bufferedBytes }
    var maxBufferedBytesPerDirection: Int { max(egress.bufferedBytes, ingress.bufferedBytes) }

    func connectionChanged(_ info: ConnectionInfo) {
        let role = stitcher.connection.role
        stitcher.connection = info
        if info.role == .unknown { stitcher.connection.role = role }
    }

    func feed(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ placement: CallCursor.Placement,
              timing: CallTiming) {
        switch direction {
        case .egress:
            egress.skipHole(placement.leadingHole, timing: timing, sink: &stitcher)
            egress.feed(bytes, startsCall: placement.startsCall, timing: timing, sink: &stitcher)
            egress.skipHole(placement.trailingHole, timing: timing, sink: &stitcher)
        case .ingress:
            ingress.skipHole(placement.leadingHole, timing: timing, sink: &stitcher)
            ingress.feed(bytes, startsCall: placement.startsCall, timing: timing, sink: &stitcher)
            ingress.skipHole(placement.trailingHole, timing: timing, sink: &stitcher)
        }
    }

    /// Frames are self-delimiting: the end of a call says nothing.
    func callEnded(_ direction: Direction) {}

    func close() {
        egress.finish(sink: &stitcher)
        ingress.finish(sink: &stitcher)
        stitcher.flush()
    }

    func discard() { stitcher.discard() }

    func drainStarted(_ body: (RequestStarted) -> Void) {
        guard !stitcher.started.isEmpty else { return }
        for request in stitcher.started { body(request) }
        stitcher.started.removeAll(keepingCapacity: stitcher.started.capacity <= 64)
    }

    func drain(into stats: inout ProtocolStats, protocolStats: inout ProtocolStats, emit: (Exchange) -> Void) {
        if !stitcher.ready.isEmpty {
            // By index: each exchange is lent to `emit` where it lies, not copied out.
            for i in stitcher.ready.indices { emit(stitcher.ready[i]) }
            stitcher.ready.removeAll(keepingCapacity: stitcher.ready.capacity <= 64)
        }
        if stitcher.stats != ProtocolStats() {
            stats.add(stitcher.stats)
            protocolStats.add(stitcher.stats)
            stitcher.stats = ProtocolStats()
        }
    }
}
