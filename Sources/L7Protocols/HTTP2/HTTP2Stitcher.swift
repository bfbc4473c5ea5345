import L7Events

/// Turns the frames of both directions of one HTTP/2 connection into
/// exchanges, one per stream: request head, response head (1xx skipped),
/// DATA byte counts, trailers, gRPC status and message counts. Owns the
/// two HPACK contexts, since every header block must be decoded in order,
/// even for streams it ignores (pushed ones).
///
/// Open streams live in an array searched by id (a connection has few open
/// at once) and are updated in place: a frame costs no copy of a stream and
/// no hashing. Their header lists are reused from stream to stream.
///
/// Over 300 lines on purpose: the frame-sink callbacks, the header-memory
/// limits and the open-stream table read and write the same private state
/// (streams, lists, held bytes, stats); a second file would need it all
/// internal. Building an exchange from a finished stream lives in
/// HTTP2ExchangeBuilder.
struct HTTP2Stitcher: HTTP2FrameSink {
    var connection: ConnectionInfo
    private var egressDecoder: HPACKDecoder
    private var ingressDecoder: HPACKDecoder
    /// Open streams, in no particular order; `streamIDs[i]` is `streams[i].id`.
    private var streams: [HTTP2Stream] = []
    private var streamIDs: [UInt32] = []
    /// Emptied header lists of finished streams, for the next ones.
    private var spareLists: [HPACKHeaderList] = []
    /// Fields and bytes the last finished stream held: a new list starts
    /// with that room, when no spare one is left (many concurrent streams).
    private var typicalListSize = (fields: 0, bytes: 0)
    /// Blocks decoded only for their table updates (pushed streams).
    private var scratch = HPACKHeaderList()
    private let maxStreams: Int
    /// The last stream id of the server's GOAWAY: streams above it (even
    /// ones opened after it, in flight) were never processed by the server.
    private var serverGoawayLastStream: UInt32?
    /// Bytes the open streams' header lists hold (see `HPACKHeaderList.heldBytes`).
    private(set) var heldHeaderBytes = 0
    /// Exchanges completed since the owner last drained them.
    var ready: [Exchange] = []
    /// Client requests whose heads were decoded since the owner last drained them.
    var started: [RequestStarted] = []
    var stats = ProtocolStats()

    init(connection: ConnectionInfo, seenFromStart: Bool, maxStreams: Int) {
        self.connection = connection
        self.maxStreams = maxStreams
        egressDecoder = HPACKDecoder(startsEmpty: seenFromStart)
        ingressDecoder = HPACKDecoder(startsEmpty: seenFromStart)
    }

    // MARK: - Frame sink

    mutating func headerBlock(_ block: UnsafeRawBufferPointer, stream id: UInt32, endStream: Bool,
                              isPushPromise: Bool, first: CallTiming, last: CallTiming, from direction: Direction) {
        // Pushed streams (and server-initiated ones) are not requests the
        // client made: their blocks are decoded for the table only.
        guard !isPushPromise, id % 2 == 1 else {
            var discarded = HPACKHeaderList()
            swap(&discarded, &scratch)
            discarded.removeAll()
            // Nothing is kept: the block matters for its table insertions only.
            (discarded.keepLimit, discarded.spanFieldLimit) = (0, 0)
            let decoded = decode(block, into: &discarded, from: direction)
            discarded.omittedFields = 0
            swap(&discarded, &scratch)
            if !decoded { markLost(id, endStream: endStream, from: direction) }
            return
        }
        let (i, opened) = openStream(id)
        var fields = streams[i].takeFields()
        let mark = fields.mark
        let start = fields.count
        let heldBefore = fields.heldBytes
        limitKeptBytes(of: &fields)
        let decoded = decode(block, into: &fields, from: direction)
        let range = start..<fields.count
        if decoded { inferRole(from: fields, range, direction: direction) }
        var informational = false
        if decoded && streams[i][direction].head == nil, let status = fields.firstIndex(of: ":status", in: range) {
            informational = !endStream && fields.withField(status) { _, value in value?.first == UInt8(ascii: "1") }
        }
        if informational { fields.rollBack(to: mark) }
        heldHeaderBytes += fields.heldBytes - heldBefore
        if fields.omittedFields > 0 {
            stats.headerFieldsOmitted += fields.omittedFields
            fields.omittedFields = 0
            streams[i][direction].fieldsOmitted = true
        }
        streams[i].fields = fields
        guard decoded else {
            markLost(id, endStream: endStream, from: direction)
            return
        }
        if informational {
            // 1xx: an interim response. A stream it alone opened is not kept.
            if opened { dropStream(at: i) }
            return
        }
        var isHead = false
        modifyStream(at: i) { stream in
            // After a lost head, a later block is its trailers: never taken for the head.
            if stream[direction].head == nil && !stream[direction].headerBlockLost {
                stream[direction].head = range
                isHead = true
            } else {
                stream[direction].trailers = range
            }
            stream[direction].touch(first, last)
            if endStream { stream[direction].ended = true }
        }
        // A request's head: written by a client, read by a server. (The
        // stream's flags are read in place above: a read of `streams[i]`
        // here would copy the stream.)
        let isClient = connection.role == .client
        if isHead && connection.role != .unknown && (direction == .egress) == isClient {
            // The stream id is the position both ends agree on, whatever the capture lost.
            started.append(RequestStarted(connection: connection, position: .http2(stream: id),
                                          timing: MessageTiming(firstEnterNs: first.enterNs, firstExitNs: first.exitNs,
                                                                lastEnterNs: last.enterNs, lastExitNs: last.exitNs,
                                                                firstTid: first.tid),
                                          traceparent: fields.value(of: "traceparent", in: range)))
        }
    }

    mutating func headerBlockLost(stream id: UInt32?, endStream: Bool, tooLarge: Bool, from direction: Direction) {
        if tooLarge { stats.oversizedHeads += 1 } else { stats.holesInHeaders += 1 }
        forgetTable(direction)
        if let id { markLost(id, endStream: endStream, from: direction) }
    }

    private mutating func markLost(_ id: UInt32, endStream: Bool, from direction: Direction) {
        guard id % 2 == 1 else { return }
        let i = openStream(id).index
        modifyStream(at: i) { stream in
            stream[direction].headerBlockLost = true
            if endStream { stream[direction].ended = true }
        }
    }

    mutating func data(_ bytes: UnsafeRawBufferPointer?, count: Int, stream id: UInt32, timing: CallTiming,
                       from direction: Direction) {
        guard let i = index(of: id) else { return }
        streams[i][direction].dataBytes += count
        streams[i][direction].touch(timing, timing)
        if let bytes { streams[i][direction].messages.feed(bytes) } else { streams[i][direction].messages.skip(count) }
    }

    mutating func dataFrameEnded(stream id: UInt32, endStream: Bool, timing: CallTiming, from direction: Direction) {
        guard endStream, let i = index(of: id) else { return }
        modifyStream(at: i) { stream in
            stream[direction].ended = true
            stream[direction].touch(timing, timing)
        }
    }

    mutating func rstStream(stream id: UInt32, errorCode: UInt32, timing: CallTiming, from direction: Direction) {
        guard let i = index(of: id) else { return }
        streams[i].resetCode = errorCode
        if streams[i][direction].first != nil { streams[i][direction].last = timing }
        finishStream(at: i)
    }

    mutating func settings(_ values: [(id: UInt16, value: UInt32)], ack: Bool, from direction: Direction) {
        // The sender of SETTINGS decodes the blocks of the other direction;
        // its SETTINGS_HEADER_TABLE_SIZE binds that direction's encoder from
        // the ACK the encoder's side sends, which travels with its blocks and
        // so marks exactly where the new limit starts (RFC 7541 §4.2).
        if ack {
            if direction == .egress { egressDecoder.settingsAcknowledged() } else { ingressDecoder.settingsAcknowledged() }
            return
        }
        let size = values.last { $0.id == 0x1 }.map { Int(min($0.value, 1 << 30)) }
        if direction == .egress {
            ingressDecoder.settingsSent(headerTableSize: size)
        } else {
            egressDecoder.settingsSent(headerTableSize: size)
        }
    }

    mutating func goaway(lastStream: UInt32, errorCode: UInt32, timing: CallTiming, from direction: Direction) {
        // Streams above the last one the sender processed never ran. The
        // requests' streams (odd) are the client's: only the server's GOAWAY
        // speaks of them (a client's names the server's pushed streams).
        let sentByServer: Bool
        switch connection.role {
        case .server: sentByServer = direction == .egress
        case .client: sentByServer = direction == .ingress
        case .unknown: sentByServer = true
        }
        guard sentByServer else { return }
        serverGoawayLastStream = min(serverGoawayLastStream ?? .max, lastStream)
        for id in streamIDs.sorted() where id > lastStream {
            guard let i = index(of: id) else { continue }
            streams[i].refused = true
            streams[i].resetCode = errorCode
            finishStream(at: i)
        }
    }

    mutating func lostSync(from direction: Direction) {
        forgetTable(direction)
        // Frames of any stream may be missing from this direction.
        for i in streams.indices {
            streams[i][direction].messages.skip(Int.max)
        }
    }

    // MARK: - Decoding

    /// A stream's header list keeps at most this many bytes of fields, and
    /// `spanFieldReserve` more of the fields a span reads; the open streams
    /// of a connection together keep at most `connectionHeaderLimit`, and
    /// `connectionSpanFieldReserve` more. Honest heads are far smaller;
    /// what does not fit is counted (`headerFieldsOmitted`).
    static let streamHeaderLimit = 64 * 1024
    static let spanFieldReserve = 8 * 1024
    static let connectionHeaderLimit = 1024 * 1024
    static let connectionSpanFieldReserve = 256 * 1024

    /// Sets the list's limits from what it and the other open streams hold.
    private func limitKeptBytes(of list: inout HPACKHeaderList) {
        let held = list.heldBytes
        let room = min(Self.streamHeaderLimit - held, Self.connectionHeaderLimit - heldHeaderBytes)
        let spanRoom = min(Self.streamHeaderLimit + Self.spanFieldReserve - held,
                           Self.connectionHeaderLimit + Self.connectionSpanFieldReserve - heldHeaderBytes)
        list.keepLimit = held + max(0, room)
        list.spanFieldLimit = held + max(0, spanRoom)
    }

    /// Decodes a block with the direction's context; false when it is malformed (counted).
    private mutating func decode(_ block: UnsafeRawBufferPointer, into list: inout HPACKHeaderList,
                                 from direction: Direction) -> Bool {
        do {
            if direction == .egress {
                try egressDecoder.decode(block, into: &list)
            } else {
                try ingressDecoder.decode(block, into: &list)
            }
            return true
        } catch {
            stats.malformedMessages += 1
            return false
        }
    }

    private mutating func forgetTable(_ direction: Direction) {
        if direction == .egress { egressDecoder.forgetTable() } else { ingressDecoder.forgetTable() }
    }

    // MARK: - Streams

    private func index(of id: UInt32) -> Int? { streamIDs.lastIndex(of: id) }

    /// The stream's index, opening it if needed (`opened`).
    private mutating func openStream(_ id: UInt32) -> (index: Int, opened: Bool) {
        if let i = index(of: id) { return (i, false) }
        if streams.count >= maxStreams, let oldest = streamIDs.min(), let i = index(of: oldest) {
            // Bounded state: the oldest stream is given up.
            dropStream(at: i)
            stats.droppedExchanges += 1
        }
        let fields = spareLists.popLast()
            ?? HPACKHeaderList(reservingFields: typicalListSize.fields, bytes: typicalListSize.bytes)
        streams.append(HTTP2Stream(id: id, fields: fields))
        streamIDs.append(id)
        return (streams.count - 1, true)
    }

    /// Changes a stream in place, then emits it if both directions ended.
    private mutating func modifyStream(at i: Int, _ change: (inout HTTP2Stream) -> Void) {
        change(&streams[i])
        if streams[i].bothEnded { finishStream(at: i) }
    }

    /// Reports a finished stream where it lies, then drops it.
    private mutating func finishStream(at i: Int) {
        if let last = serverGoawayLastStream, streams[i].id > last { streams[i].refused = true }
        if streams[i].refused && connection.role == .server {
            // The server never processed it: no server span (RFC 9113 §6.8), a counted loss.
            stats.refusedStreams += 1
            dropStream(at: i)
            return
        }
        switch HTTP2ExchangeBuilder.outcome(of: streams[i], connection: connection) {
        case .built(let exchange):
            ready.append(exchange)
            stats.exchanges += 1
        case .malformed: stats.malformedMessages += 1
        case .noRequestSide: stats.droppedExchanges += 1
        case .orphanResponse: stats.orphanResponses += 1
        case .nothing: break
        }
        dropStream(at: i)
    }

    /// Removes a stream from the open ones (the last one moves into its
    /// place), keeping its header list for the next stream.
    private mutating func dropStream(at i: Int) {
        var fields = streams[i].takeFields()
        heldHeaderBytes -= fields.heldBytes
        recycle(&fields)
        let last = streams.count - 1
        if i != last {
            streams.swapAt(i, last)
            streamIDs.swapAt(i, last)
        }
        streams.removeLast()
        streamIDs.removeLast()
    }

    /// Keeps a finished stream's header list for the next stream, unless it grew large.
    private mutating func recycle(_ fields: inout HPACKHeaderList) {
        typicalListSize = (min(fields.count, 256), min(fields.bytes.count, 8 * 1024))
        guard spareLists.count < 4, fields.capacityBytes <= 16 * 1024 else { return }
        var spare = HPACKHeaderList()
        swap(&spare, &fields)
        spare.removeAll()
        spareLists.append(spare)
    }

    private mutating func inferRole(from fields: HPACKHeaderList, _ range: Range<Int>, direction: Direction) {
        guard connection.role == .unknown else { return }
        if fields.has(":method", in: range) {
            connection.role = direction == .egress ? .client : .server
        } else if fields.has(":status", in: range) {
            connection.role = direction == .egress ? .server : .client
        }
    }

    /// The connection ended: streams still open end with it.
    mutating func flush() {
        for id in streamIDs.sorted() {
            guard let i = index(of: id) else { continue }
            finishStream(at: i)
        }
    }

    /// Forgets every stream without reporting them (eviction).
    mutating func discard() {
        stats.droppedExchanges += streams.count
        streams.removeAll()
        streamIDs.removeAll()
        heldHeaderBytes = 0
    }
}
