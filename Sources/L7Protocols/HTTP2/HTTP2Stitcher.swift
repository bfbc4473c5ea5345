import L7Events

/// Turns the frames of both directions of one HTTP/2 connection into
/// exchanges, one per stream: request head, response head (1xx skipped),
/// DATA byte counts, trailers, gRPC status and message counts. Owns the
/// two HPACK contexts, since every header block must be decoded in order,
/// even for streams it ignores (pushed ones).
struct HTTP2Stitcher: HTTP2FrameSink {
    var connection: ConnectionInfo
    private var decoders: [HPACKDecoder]
    private var streams: [UInt32: HTTP2Stream] = [:]
    private let maxStreams: Int
    /// Exchanges completed since the owner last drained them.
    var ready: [Exchange] = []
    var stats = ProtocolStats()

    init(connection: ConnectionInfo, seenFromStart: Bool, maxStreams: Int) {
        self.connection = connection
        self.maxStreams = maxStreams
        decoders = [HPACKDecoder(startsEmpty: seenFromStart), HPACKDecoder(startsEmpty: seenFromStart)]
    }

    var openStreams: Int { streams.count }
    /// Whether each direction's HPACK model is known to hold the whole table.
    func tableIsExact(_ direction: Direction) -> Bool { decoders[Int(direction.rawValue)].isExact }

    // MARK: - Frame sink

    mutating func headerBlock(_ block: UnsafeRawBufferPointer, stream id: UInt32, endStream: Bool,
                              isPushPromise: Bool, first: CallTiming, last: CallTiming, from direction: Direction) {
        let fields: [HPACKField]
        do {
            fields = try decoders[Int(direction.rawValue)].decode(block)
        } catch {
            stats.malformedMessages += 1
            markLost(id, endStream: endStream, from: direction)
            return
        }
        // Pushed streams (and server-initiated ones) are not requests the client made.
        guard !isPushPromise, id % 2 == 1 else { return }
        inferRole(from: fields, direction: direction)
        guard var stream = stream(id, opening: true) else { return }
        var side = stream[direction]
        if side.head == nil {
            if let status = fields.value(":status"), status.utf8.first == UInt8(ascii: "1"), !endStream {
                return  // 1xx: an interim response
            }
            side.head = fields
        } else {
            side.trailers = fields
        }
        side.touch(first, last)
        if endStream { side.ended = true }
        stream[direction] = side
        store(stream)
    }

    mutating func headerBlockLost(stream id: UInt32?, endStream: Bool, from direction: Direction) {
        stats.holesInHeaders += 1
        decoders[Int(direction.rawValue)].forgetTable()
        if let id { markLost(id, endStream: endStream, from: direction) }
    }

    private mutating func markLost(_ id: UInt32, endStream: Bool, from direction: Direction) {
        guard id % 2 == 1, var stream = stream(id, opening: true) else { return }
        stream[direction].headerBlockLost = true
        if endStream { stream[direction].ended = true }
        store(stream)
    }

    mutating func data(_ bytes: UnsafeRawBufferPointer?, count: Int, stream id: UInt32, timing: CallTiming,
                       from direction: Direction) {
        guard var stream = streams[id] else { return }
        stream[direction].dataBytes += count
        stream[direction].touch(timing, timing)
        if let bytes { stream[direction].messages.feed(bytes) } else { stream[direction].messages.skip(count) }
        streams[id] = stream
    }

    mutating func dataFrameEnded(stream id: UInt32, endStream: Bool, timing: CallTiming, from direction: Direction) {
        guard endStream, var stream = streams[id] else { return }
        stream[direction].ended = true
        stream[direction].touch(timing, timing)
        store(stream)
    }

    mutating func rstStream(stream id: UInt32, errorCode: UInt32, timing: CallTiming, from direction: Direction) {
        guard var stream = streams.removeValue(forKey: id) else { return }
        stream.resetCode = errorCode
        if stream[direction].first != nil { stream[direction].last = timing }
        emit(stream)
    }

    mutating func settings(_ values: [(id: UInt16, value: UInt32)], ack: Bool, from direction: Direction) {
        // The sender of SETTINGS decodes the blocks of the other direction.
        // Applied on receipt rather than on ACK: a smaller limit only makes
        // more references unknown, never wrong (see HPACKDecoder).
        let decoderIndex = direction == .egress ? 1 : 0
        for setting in values where setting.id == 0x1 {
            decoders[decoderIndex].settingsChanged(headerTableSize: Int(min(setting.value, 1 << 30)))
        }
    }

    mutating func goaway(lastStream: UInt32, errorCode: UInt32, timing: CallTiming, from direction: Direction) {
        // Streams above the last one the sender processed never ran.
        for id in streams.keys.sorted() where id > lastStream {
            guard var stream = streams.removeValue(forKey: id) else { continue }
            stream.refused = true
            stream.resetCode = errorCode
            emit(stream)
        }
    }

    mutating func lostSync(from direction: Direction) {
        decoders[Int(direction.rawValue)].forgetTable()
        // Frames of any stream may be missing from this direction.
        for id in streams.keys {
            streams[id]![direction].messages.skip(Int.max)
        }
    }

    // MARK: - Streams

    private mutating func stream(_ id: UInt32, opening: Bool) -> HTTP2Stream? {
        if let s = streams[id] { return s }
        guard opening else { return nil }
        if streams.count >= maxStreams, let oldest = streams.keys.min() {
            // Bounded state: the oldest stream is given up.
            streams[oldest] = nil
            stats.droppedExchanges += 1
        }
        return HTTP2Stream(id: id)
    }

    /// Keeps a stream, or emits it once both directions ended.
    private mutating func store(_ stream: HTTP2Stream) {
        if stream.sides[0].ended && stream.sides[1].ended {
            streams[stream.id] = nil
            emit(stream)
        } else {
            streams[stream.id] = stream
        }
    }

    private mutating func inferRole(from fields: [HPACKField], direction: Direction) {
        guard connection.role == .unknown else { return }
        if fields.has(":method") {
            connection.role = direction == .egress ? .client : .server
        } else if fields.has(":status") {
            connection.role = direction == .egress ? .server : .client
        }
    }

    /// The connection ended: streams still open end with it.
    mutating func flush() {
        for id in streams.keys.sorted() {
            if let stream = streams.removeValue(forKey: id) { emit(stream) }
        }
    }

    /// Forgets every stream without reporting them (eviction).
    mutating func discard() {
        stats.droppedExchanges += streams.count
        streams.removeAll()
    }

    // MARK: - Exchanges

    private mutating func emit(_ stream: HTTP2Stream) {
        let requestDirection: Direction
        switch connection.role {
        case .client: requestDirection = .egress
        case .server: requestDirection = .ingress
        case .unknown:
            if stream.sides[0].head?.has(":method") == true { requestDirection = .egress }
            else if stream.sides[1].head?.has(":method") == true { requestDirection = .ingress }
            else { stats.droppedExchanges += 1; return }
        }
        let requestSide = stream[requestDirection]
        let responseSide = stream[requestDirection == .egress ? .ingress : .egress]
        guard requestSide.seen, let requestFirst = requestSide.first else {
            // A response to a request the capture never saw.
            if responseSide.seen { stats.orphanResponses += 1 }
            return
        }
        if let exchange = HTTP2ExchangeBuilder(connection: connection, stream: stream, request: requestSide,
                                               requestFirst: requestFirst, response: responseSide).build() {
            ready.append(exchange)
            stats.exchanges += 1
        } else {
            stats.malformedMessages += 1
        }
    }
}
