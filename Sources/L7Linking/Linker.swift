import L7Events
import L7Protocols
import L7Spans

/// Links the server span of a request to the client span that sent it,
/// when both ends of the TCP connection are traced on this host (issue 15,
/// rule 1): same trace id, parent = the client span's id.
///
/// How it cannot mislink:
/// - A client request gets its span's identity when its head is parsed
///   (`requestStarted`), keyed by its connection's two addresses and its
///   position there (HTTP/1 number, HTTP/2 stream id). Its exchange takes
///   that identity when it ends (`clientIdentity`).
/// - A server exchange looks the client up by the mirrored addresses (its
///   peer is the client's local end) and the same position. HTTP/1 numbers
///   link only when both ends counted every request from the connection's
///   start (`RequestPosition.http1(exact:)`); HTTP/2 stream ids always.
/// - Causality is checked: the client's write must have begun before the
///   server's read returned. A node links once. A client connection closed
///   before the server read is not a candidate (a 4-tuple reused later).
/// - A record the ring buffer lost can shift an HTTP/1 count by one while
///   the parser stays in sync: after a loss (`captureLost`), HTTP/1
///   positions link only on connections opened after it was seen.
/// - The server's exchange may be complete before the client's request
///   record is consumed (one ring, two CPUs): a server span whose peer may
///   be traced is held until the client's node arrives or the watermark
///   (the time up to which every record was consumed) passes its read by
///   `holdNs`; then it is exported unlinked, never linked late.
///
/// One thread (the capture's) drives it. Memory is bounded by `LinkLimits`;
/// what the bounds cost is counted in `counters`.
public final class Linker {
    public let limits: LinkLimits
    public internal(set) var counters = LinkCounters()

    var ids: any IDGenerator
    /// Whether a process runs Go (goroutines move between threads: rule 2
    /// is not used for it). Asked once per process.
    public var isGoProcess: (UInt32) -> Bool = { _ in false }
    /// Whether every port a process listens on is selected: otherwise it
    /// may serve requests the linker never sees, and rule 2b (one request
    /// in flight) is not used for it. Asked once per process.
    public var isFullyVisible: (UInt32) -> Bool = { _ in true }
    /// Processes serving or calling, for rules 2 and 3 (`Linker+InProcess`).
    var processes: [UInt32: ProcessActivity] = [:]
    /// The two processes `activity(_:create:)` found last (a client's and
    /// its server's events alternate).
    var lastActivity: (tgid: UInt32, process: ProcessActivity)?
    var previousActivity: (tgid: UInt32, process: ProcessActivity)?
    /// Spans whose trace id may still change (`TraceCell`), oldest first.
    var pending: [PendingSpan] = []
    /// The last watermark: pending decisions past their deadline by then are taken.
    var nowNs: UInt64 = 0
    /// Client connections in a slab (read and changed in place, never
    /// copied), found by connection id or by tuple; freed slots are reused.
    private var slab: [ClientConnection] = []
    private var freeSlots: [Int] = []
    private var slotOfConnection: [UInt64: Int] = [:]
    private var byTuple: [Tuple: Int] = [:]
    /// In front of `slotOfConnection` and `byTuple` (each hashed lookup cost
    /// ~170 instructions, several a request). What they return is checked
    /// against the slab (`slotIndex(of:)`, `connectionIndex(on:)`), so a stale
    /// or colliding entry is a miss, never another connection.
    private var slotCache = IDCache<Int>()
    private var tupleCache = IDCache<Int>()
    /// Hosts (port 0) that client connections were seen leaving from: a
    /// server's peer there may be traced.
    private var localHosts: Set<SocketAddress> = []
    /// Server connections whose peer turned out not to be traced: not held again.
    private var untracedPeers: Set<UInt64> = []
    private var held: [HeldSpan?] = []
    private var heldStart = 0
    private var heldCount = 0
    /// Held spans per tuple, so a client start looks through them only when one waits for it.
    private var waiting: [Tuple: Int] = [:]
    private var lastReapNs: UInt64 = 0
    /// When the capture last reported lost records (CLOCK_MONOTONIC), if ever.
    private var lastLossNs: UInt64?
    /// When each server connection was opened (accepted), for the loss rule.
    private var serverOpenedNs: [UInt64: UInt64] = [:]
    /// The thread that accepted each server connection: a request read by
    /// another thread shows a process serving on threads (rule 2a).
    var serverAcceptTid: [UInt64: UInt32] = [:]
    /// In front of `serverAcceptTid`, changed with it; a stored nil: not in it.
    var acceptTidCache = IDCache<UInt32?>()

    public init(limits: LinkLimits = LinkLimits(), ids: some IDGenerator = RandomIDGenerator()) {
        self.limits = limits
        self.ids = ids
    }

    // MARK: - Connections

    /// A connection was opened: a client end is registered (its open record
    /// comes before its first request, so a server exchange whose peer has
    /// none after a hold is not traced).
    public func opened(_ opened: ConnectionOpened) {
        if opened.role == .server {
            // Bounded: forgetting them only costs HTTP/1 links after a loss.
            if serverOpenedNs.count >= limits.maxClientConnections { serverOpenedNs.removeAll() }
            serverOpenedNs[opened.key.connectionID] = opened.timestampNs
            if serverAcceptTid.count >= limits.maxClientConnections {
                serverAcceptTid.removeAll()
                acceptTidCache.removeAll()
            }
            serverAcceptTid[opened.key.connectionID] = opened.tid
            acceptTidCache.store(opened.tid, for: opened.key.connectionID)
            return
        }
        guard opened.role == .client, let local = opened.local, let remote = opened.remote else { return }
        register(opened.key.connectionID, Tuple(clientLocal: local, clientRemote: remote).canonical,
                     atNs: opened.timestampNs)
    }

    /// The connection ended at `atNs` (its last fd closed).
    public func closed(_ connectionID: UInt64, atNs: UInt64) {
        if let i = slotIndex(of: connectionID) { slab[i].closedAtNs = atNs }
        if !serverOpenedNs.isEmpty { serverOpenedNs[connectionID] = nil }
        if !serverAcceptTid.isEmpty { serverAcceptTid[connectionID] = nil }
        acceptTidCache.remove(connectionID)
        if !untracedPeers.isEmpty { untracedPeers.remove(connectionID) }
    }

    /// The capture lost records (ring buffer full, or calls not followed)
    /// before `atNs`: HTTP/1 counts of connections open then may be off by
    /// one without any parser noticing, so they no longer link.
    public func captureLost(atNs: UInt64) { lastLossNs = atNs }

    // MARK: - Client side

    /// A request's head was parsed: its span's ids are fixed now. A server
    /// request is open in its process until its exchange ends (rule 2); a
    /// client request may be the child of one (rules 2, 3), and server spans
    /// waiting for it are linked (rule 1) and given to `emit`.
    public func requestStarted(_ started: RequestStarted, emit: (SpanRecord, ProcessResource) -> Void) {
        let connection = started.connection
        if connection.role == .server { return serverStarted(started) }
        guard connection.role == .client, let local = connection.local, let remote = connection.remote else { return }
        let id = connection.key.connectionID
        // Known (the common case): its tuple is not needed.
        guard let index = slotIndex(of: id)
                ?? register(id, Tuple(clientLocal: local, clientRemote: remote).canonical, atNs: started.timing.firstEnterNs)
        else { return }
        let (identity, cell, rule) = callIdentity(started)
        let node = ClientNode(position: started.position, identity: identity, requestEnterNs: started.timing.firstEnterNs,
                              cell: cell, rule: rule)
        slab[index].store(node, slots: limits.nodesPerConnection)
        if heldCount > 0 {
            let tuple = Tuple(clientLocal: local, clientRemote: remote).canonical
            if let count = waiting[tuple], count > 0 { releaseWaiting(for: tuple, emit: emit) }
        }
    }

    /// The identity fixed when the client exchange's request began, if it was seen.
    public func clientIdentity(for exchange: Exchange) -> SpanIdentity? {
        nodeIndex(for: exchange).map { slab[$0.client].nodes[$0.slot].identity }
    }

    /// Where the client exchange's node is (read in place: a node copied out
    /// costs its cell's retain and release).
    private func nodeIndex(for exchange: Exchange) -> (client: Int, slot: Int)? {
        guard exchange.connection.role == .client, let position = exchange.position,
              let index = slotIndex(of: exchange.connection.key.connectionID),
              let slot = nodeSlot(of: position, in: index) else { return nil }
        return (index, slot)
    }

    /// A client exchange ended: its span is built with the identity fixed
    /// at its start (`build`), named by the rule that gave it a parent in its
    /// process, and emitted once its trace id is final.
    public func clientSpan(_ exchange: Exchange, resource: ProcessResource, build: (SpanIdentity?) -> SpanRecord,
                           emit: (SpanRecord, ProcessResource) -> Void) {
        guard let at = nodeIndex(for: exchange) else { return emit(build(nil), resource) }
        var record = build(slab[at.client].nodes[at.slot].identity)
        if let rule = slab[at.client].nodes[at.slot].rule {
            record.attributes.append(Attribute("l7trace.link", .string(rule.attribute)))
        }
        guard let cell = slab[at.client].nodes[at.slot].cell else { return emit(record, resource) }
        if cell.clientEndNs == nil {
            if exchange.hasResponse && exchange.failure == nil, let response = exchange.responseTiming {
                cell.clientEndNs = response.lastExitNs
                verify(cell)
            } else {
                // A call that failed has no end to check against its caller's
                // answer: not linked, and no verdict on the process.
                counters.refusedUnverifiable += 1
                refuse(cell, flag: false)
            }
        }
        finish(record, resource, cell: cell, own: true, emit: emit)
    }

    /// Registers client connection `id` on `tuple` (canonical) unless it is;
    /// its slab index, or nil when full.
    @discardableResult
    private func register(_ id: UInt64, _ tuple: Tuple, atNs: UInt64) -> Int? {
        if let index = slotIndex(of: id) { return index }
        guard slotOfConnection.count < limits.maxClientConnections else {
            counters.clientConnectionsFull += 1
            return nil
        }
        if let previous = byTuple[tuple] {
            // A 4-tuple is open once: the old connection ended before this one began.
            if slab[previous].closedAtNs == nil { slab[previous].closedAtNs = atNs }
            slab[previous].isSuperseded = true
        }
        let connection = ClientConnection(id: id, tuple: tuple, openedNs: atNs)
        let index: Int
        if let free = freeSlots.popLast() {
            index = free
            slab[index] = connection
        } else {
            index = slab.count
            slab.append(connection)
        }
        slotOfConnection[id] = index
        slotCache.store(index, for: id)
        byTuple[tuple] = index
        tupleCache.store(index, for: tuple.portsKey)
        if localHosts.count < 1024 {
            var host = tuple.clientLocal
            host.port = 0
            localHosts.insert(host)
        }
        return index
    }

    /// `slotOfConnection[id]`, through its cache.
    @inline(__always)
    private func slotIndex(of id: UInt64) -> Int? {
        // In use with this id: the slot `slotOfConnection` names (an id is registered once).
        if let index = slotCache.value(for: id), index < slab.count, slab[index].isInUse, slab[index].id == id {
            return index
        }
        guard let index = slotOfConnection[id] else { return nil }
        slotCache.store(index, for: id)
        return index
    }

    /// `byTuple[tuple]`, through its cache.
    @inline(__always)
    private func connectionIndex(on tuple: Tuple) -> Int? {
        // In use on this tuple and not superseded on it: the slot `byTuple` names.
        if let index = tupleCache.value(for: tuple.portsKey), index < slab.count, slab[index].isInUse,
           !slab[index].isSuperseded, slab[index].tuple == tuple {
            return index
        }
        guard let index = byTuple[tuple] else { return nil }
        tupleCache.store(index, for: tuple.portsKey)
        return index
    }

    /// `slab[index].slot(of:slots:)`, its fields read in place (a method
    /// called on the element copied the connection).
    @inline(__always)
    private func nodeSlot(of position: RequestPosition, in index: Int) -> Int? {
        let slot = ClientConnection.slot(of: position, slots: limits.nodesPerConnection)
        return slot < slab[index].nodes.count && slab[index].nodes[slot].position == position ? slot : nil
    }

    // MARK: - Server side

    /// A server exchange's span (built without a link): exported now,
    /// linked or not, or held until its client's node may arrive.
    public func serverSpan(_ record: consuming SpanRecord, resource: ProcessResource, of exchange: Exchange,
                           emit: (SpanRecord, ProcessResource) -> Void) {
        let connection = exchange.connection
        // The request is answered: calls linked to it are checked (rule 2).
        let cell = connection.role == .server ? serverEnded(exchange) : nil
        guard connection.role == .server, let local = connection.local, let remote = connection.remote,
              let position = exchange.position
        else { return release(record, resource, cell: cell, follows: nil, emit: emit) }
        let tuple = Tuple(clientLocal: remote, clientRemote: local).canonical
        let readNs = exchange.requestTiming.firstExitNs
        switch decide(tuple, position, readNs: readNs, server: connection.key.connectionID) {
        case .link(let slot, let client):
            let follows = link(&record, toSlot: slot, of: client)
            release(record, resource, cell: cell, follows: follows, emit: emit)
        case .unlinked:
            release(record, resource, cell: cell, follows: nil, emit: emit)
        case .waitForConnection:
            let peerMayBeTraced = remote.isLoopback || localHosts.contains(Self.host(remote))
            guard peerMayBeTraced, !untracedPeers.contains(connection.key.connectionID) else {
                return release(record, resource, cell: cell, follows: nil, emit: emit)
            }
            hold(HeldSpan(record: record, resource: resource, tuple: tuple, position: position, readNs: readNs,
                          serverConnection: connection.key.connectionID, cell: cell), emit: emit)
        case .waitForNode:
            // The peer is traced: its request's record is on its way.
            hold(HeldSpan(record: record, resource: resource, tuple: tuple, position: position, readNs: readNs,
                          serverConnection: connection.key.connectionID, cell: cell), emit: emit)
        }
    }

    /// A server span whose rule-1 outcome is known: its trace is its own
    /// (header or fresh), or `follows` its client's, which may be pending.
    /// `cell`: the request's, if calls took it as parent (decided now).
    private func release(_ record: SpanRecord, _ resource: ProcessResource, cell: TraceCell?, follows: TraceCell?,
                         emit: (SpanRecord, ProcessResource) -> Void) {
        if let cell {
            // Decided already when it waited past its deadline: then the span
            // follows its cell (a root in the fallback trace its calls took).
            if let follows { cell.follow(follows) } else { cell.decide(record.traceID) }
            finish(record, resource, cell: cell, own: true, emit: emit)
        } else if let follows {
            finish(record, resource, cell: follows, own: false, emit: emit)
        } else {
            emit(record, resource)
        }
    }

    private enum Decision {
        case link(slot: Int, client: Int)
        case unlinked
        /// No client connection on the tuple: its first record may not have been consumed yet.
        case waitForConnection
        /// The client connection is known; this request's node may not have been consumed yet.
        case waitForNode
    }

    private func decide(_ tuple: Tuple, _ position: RequestPosition, readNs: UInt64, server: UInt64) -> Decision {
        if case .http1(_, let exact) = position, !exact {
            counters.inexactPositions += 1
            return .unlinked
        }
        guard let index = connectionIndex(on: tuple) else { return .waitForConnection }
        if let closed = slab[index].closedAtNs, closed < readNs { return .unlinked }  // a reused tuple's older connection
        if case .http1 = position, let loss = lastLossNs,
           slab[index].openedNs <= loss || (serverOpenedNs[server] ?? 0) <= loss {
            counters.refusedAfterLoss += 1
            return .unlinked
        }
        guard let slot = nodeSlot(of: position, in: index) else {
            return slab[index].isNewer(position) ? .waitForNode : .unlinked
        }
        guard slab[index].nodes[slot].requestEnterNs <= readNs else {
            counters.refusedCausality += 1
            return .unlinked
        }
        guard !slab[index].nodes[slot].linked else {
            counters.refusedDuplicate += 1
            return .unlinked
        }
        return .link(slot: slot, client: index)
    }

    /// The connection match sets the parent; a `traceparent` the server
    /// read keeps its trace id (issue 15, rule 4), counted when they differ.
    /// Returns the client's cell when the server's trace follows it (the
    /// client's own link is still being checked).
    private func link(_ record: inout SpanRecord, toSlot slot: Int, of client: Int) -> TraceCell? {
        slab[client].nodes[slot].linked = true
        let identity = slab[client].nodes[slot].identity
        let cell = slab[client].nodes[slot].cell
        record.parentSpanID = identity.spanID
        record.attributes.append(Attribute("l7trace.link", .string("connection")))
        counters.links += 1
        if record.flags & 0x200 != 0 {
            if cell == nil, record.traceID != identity.traceID { counters.headerConflicts += 1 }
            return nil
        }
        record.traceID = identity.traceID
        record.flags = 0x301  // sampled; the parent is known, and remote
        return cell
    }

    // MARK: - Holding

    private func hold(_ span: HeldSpan, emit: (SpanRecord, ProcessResource) -> Void) {
        if heldCount >= limits.maxHeldSpans, let oldest = popOldestHeld() {
            counters.holdOverflows += 1
            release(oldest.record, oldest.resource, cell: oldest.cell, follows: nil, emit: emit)
        }
        held.append(span)
        heldCount += 1
        waiting[span.tuple, default: 0] += 1
        counters.held += 1
    }

    private func popOldestHeld() -> HeldSpan? {
        while heldStart < held.count {
            defer { heldStart += 1 }
            if let span = held[heldStart] {
                held[heldStart] = nil
                unhold(span)
                return span
            }
        }
        return nil
    }

    private func unhold(_ span: HeldSpan) {
        heldCount -= 1
        if let count = waiting[span.tuple], count > 1 { waiting[span.tuple] = count - 1 } else { waiting[span.tuple] = nil }
    }

    private func releaseWaiting(for tuple: Tuple, emit: (SpanRecord, ProcessResource) -> Void) {
        for i in heldStart..<held.count {
            guard let span = held[i], span.tuple == tuple else { continue }
            switch decide(tuple, span.position, readNs: span.readNs, server: span.serverConnection) {
            case .waitForConnection, .waitForNode: continue
            case .unlinked:
                held[i] = nil
                unhold(span)
                release(span.record, span.resource, cell: span.cell, follows: nil, emit: emit)
            case .link(let slot, let client):
                held[i] = nil
                unhold(span)
                var record = span.record
                let follows = link(&record, toSlot: slot, of: client)
                release(record, span.resource, cell: span.cell, follows: follows, emit: emit)
            }
        }
        compactHeld()
    }

    /// Every record written before `watermarkNs` (CLOCK_MONOTONIC) was
    /// consumed: held spans whose read is older than it by `holdNs` are
    /// exported unlinked; closed connections are forgotten after a while.
    public func advance(watermarkNs: UInt64, emit: (SpanRecord, ProcessResource) -> Void) {
        nowNs = max(nowNs, watermarkNs)
        if heldCount > 0 {
            for i in heldStart..<held.count {
                guard let span = held[i], span.readNs &+ limits.holdNs <= watermarkNs else { continue }
                held[i] = nil
                unhold(span)
                counters.holdExpired += 1
                // No client connection on the tuple after the hold: the peer is not traced.
                if byTuple[span.tuple] == nil, untracedPeers.count < limits.maxClientConnections {
                    untracedPeers.insert(span.serverConnection)
                }
                release(span.record, span.resource, cell: span.cell, follows: nil, emit: emit)
            }
            compactHeld()
        }
        releasePending(nowNs: nowNs, emit: emit)
        if watermarkNs >= lastReapNs &+ 1_000_000_000 {
            lastReapNs = watermarkNs
            reap(before: watermarkNs)
        }
    }

    /// Exports every held span unlinked, and every pending decision as
    /// its fallback (shutdown).
    public func flushAll(emit: (SpanRecord, ProcessResource) -> Void) {
        while let span = popOldestHeld() { release(span.record, span.resource, cell: span.cell, follows: nil, emit: emit) }
        compactHeld()
        releasePending(nowNs: .max, emit: emit)
    }

    private func compactHeld() {
        while heldStart < held.count, held[heldStart] == nil { heldStart += 1 }
        if heldStart == held.count {
            held.removeAll(keepingCapacity: held.capacity <= 1024)
            heldStart = 0
        } else if heldStart >= 64 && heldStart * 2 >= held.count {
            held.removeFirst(heldStart)
            heldStart = 0
        }
    }

    /// Forgets client connections closed longer than `closedLingerNs` ago
    /// (no server read can still be theirs), and idle ones past `idleNs`.
    private func reap(before nowNs: UInt64) {
        let closedLimit = nowNs > limits.closedLingerNs ? nowNs - limits.closedLingerNs : 0
        let idleLimit = nowNs > limits.idleNs ? nowNs - limits.idleNs : 0
        for index in slab.indices where slab[index].isInUse {
            let expired = slab[index].closedAtNs.map { $0 < closedLimit } ?? (slab[index].lastActiveNs < idleLimit)
            guard expired else { continue }
            slotOfConnection[slab[index].id] = nil
            slotCache.remove(slab[index].id)
            if byTuple[slab[index].tuple] == index { byTuple[slab[index].tuple] = nil }
            slab[index].free()
            freeSlots.append(index)
        }
    }

    // MARK: - Memory

    /// Tables kept however empty they get: below this, rebuilding saves nothing worth the copy.
    static let minimumCapacityKept = 1_024

    /// Whether a burst of connections left capacity `releaseSpareCapacity`
    /// would give back: Swift's collections never shrink, and 20,000
    /// connections closed kept ~6 MB of tables. O(1).
    public var holdsSpareCapacity: Bool {
        Self.isSparse(count: slotOfConnection.count, capacity: slab.count)
            || Self.isSparse(count: slotOfConnection.count, capacity: slotOfConnection.capacity)
            || Self.isSparse(count: serverOpenedNs.count, capacity: serverOpenedNs.capacity)
            || Self.isSparse(count: untracedPeers.count, capacity: untracedPeers.capacity)
    }

    private static func isSparse(count: Int, capacity: Int) -> Bool {
        capacity > minimumCapacityKept && count * 4 < capacity
    }

    /// Gives back what a burst grew, now that most of it is forgotten.
    /// O(connections remembered): call it when a burst has ended, never per event.
    public func releaseSpareCapacity() {
        if Self.isSparse(count: slotOfConnection.count, capacity: slab.count)
            || Self.isSparse(count: slotOfConnection.count, capacity: slotOfConnection.capacity) {
            compactClientConnections()
        }
        if Self.isSparse(count: serverOpenedNs.count, capacity: serverOpenedNs.capacity) {
            serverOpenedNs = Dictionary(uniqueKeysWithValues: serverOpenedNs.map { ($0.key, $0.value) })
        }
        if Self.isSparse(count: untracedPeers.count, capacity: untracedPeers.capacity) {
            untracedPeers = Set(untracedPeers.map { $0 })
        }
        if heldCount == 0 { held = [] }
        if waiting.isEmpty { waiting = [:] }
    }

    /// The slab without its free slots, and the two indexes rebuilt for it.
    private func compactClientConnections() {
        var newIndex = [Int](repeating: -1, count: slab.count)
        var kept: [ClientConnection] = []
        kept.reserveCapacity(slotOfConnection.count)
        for (index, connection) in slab.enumerated() where connection.isInUse {
            newIndex[index] = kept.count
            kept.append(connection)
        }
        var bySlot = [UInt64: Int](minimumCapacity: kept.count)
        for (index, connection) in kept.enumerated() { bySlot[connection.id] = index }
        var tuples = [Tuple: Int](minimumCapacity: kept.count)
        for (tuple, index) in byTuple where newIndex[index] >= 0 { tuples[tuple] = newIndex[index] }
        slab = kept
        freeSlots = []
        slotOfConnection = bySlot
        byTuple = tuples
        // Indexes moved.
        slotCache.removeAll()
        tupleCache.removeAll()
    }

    // MARK: - Inspection

    public var heldSpans: Int { heldCount }
    /// Spans waiting for a rule-2 check (theirs or an ancestor's).
    public var pendingSpans: Int { pending.count }
    public var clientConnections: Int { slotOfConnection.count }

    static func host(_ address: SocketAddress) -> SocketAddress {
        var host = address.canonical
        host.port = 0
        return host
    }
}

public struct LinkLimits: Sendable {
    /// How long past its read a server span waits for its client's node.
    public var holdNs: UInt64 = 50_000_000
    public var maxClientConnections = 16_384
    /// Recent requests remembered per client connection (HTTP/1 numbers or
    /// HTTP/2 streams, by slot): the HTTP/1 queue's bound.
    public var nodesPerConnection = 128
    public var maxHeldSpans = 16_384
    /// A closed client connection stays a candidate for server reads that began before it closed.
    public var closedLingerNs: UInt64 = 2_000_000_000
    /// An open client connection with no request for this long is forgotten (nodes only; it comes back).
    public var idleNs: UInt64 = 120_000_000_000
    /// How long a rule-2 link may wait for its check (long streams): then refused.
    public var maxPendingNs: UInt64 = 10_000_000_000
    /// Processes whose serving is followed (rule 2).
    public var maxProcesses = 4096
    /// Open server requests remembered per process (the oldest is forgotten).
    public var maxOpenRequestsPerProcess = 64
    /// Calls linked to one served request at most.
    public var maxCallsPerRequest = 64
    /// A `traceparent` a closed request received still marks calls carrying it as forwards this long.
    public var recentContextNs: UInt64 = 1_000_000_000

    public init() {}
}

/// What the linker did and what its bounds cost, since it started.
public struct LinkCounters: Sendable, Equatable {
    /// Server spans linked to their client span.
    public var links = 0
    /// Server spans held waiting for their client's node (each once).
    public var held = 0
    /// Held spans exported unlinked when the watermark passed.
    public var holdExpired = 0
    /// Held spans exported unlinked early because `maxHeldSpans` were held.
    public var holdOverflows = 0
    /// HTTP/1 server exchanges whose position was not exact: not linked.
    public var inexactPositions = 0
    /// A node whose request began after the server's read: refused.
    public var refusedCausality = 0
    /// A node already linked to another server span: refused.
    public var refusedDuplicate = 0
    /// HTTP/1 links refused because the capture lost records while the connection was open.
    public var refusedAfterLoss = 0
    /// Client connections not registered because `maxClientConnections` were.
    public var clientConnectionsFull = 0
    /// Linked server spans whose `traceparent` named another trace than the client's.
    public var headerConflicts = 0

    // Inside a process (rules 2 and 3).
    /// Calls linked by thread (2a) and by event loop (2b), after their check.
    public var linksThread = 0
    public var linksEventLoop = 0
    /// Calls that forwarded the `traceparent` of exactly one served request (2c/3).
    public var linksHeader = 0
    /// Calls linked tentatively, waiting for their check.
    public var tentative = 0
    /// Calls with several (or, flags aside, no single) candidate requests: no parent.
    public var refusedAmbiguous = 0
    /// Calls not linked because their process was flagged by a failed check or an idle call.
    public var refusedFlagged = 0
    /// Calls not linked because their process runs Go.
    public var refusedRuntime = 0
    /// Checks failed: the call's response came after the request's answer ended.
    public var refusedLate = 0
    /// Checks failed: the request was answered by another thread (2a).
    public var refusedThreadHop = 0
    /// Links refused because the served request was never seen answered.
    public var refusedUnverifiable = 0
    /// Checks not done within `maxPendingNs`: refused.
    public var pendingExpired = 0
    /// Spans held until their trace id was final (each once).
    public var pendingHeld = 0
    /// Pending spans released early (as fallbacks) because `maxHeldSpans` were pending.
    public var pendingOverflow = 0
    /// Calls written while their process served nothing (flags it for 2b).
    public var spontaneousCalls = 0
    /// Calls whose `traceparent` id a span of their process had taken: new id, parent the header's.
    public var headerReused = 0
    /// Server requests not followed because `maxProcesses` were.
    public var processesFull = 0
    /// Open server requests forgotten because `maxOpenRequestsPerProcess` were open.
    public var openRequestsOverflow = 0

    public init() {}
}

/// A connection's two ends, named from the client: its local (ephemeral)
/// address and the server's address it connected to.
struct Tuple: Hashable {
    var clientLocal: SocketAddress
    var clientRemote: SocketAddress

    /// IPv4-mapped IPv6 as IPv4: a dual-stack server sees `::ffff:127.0.0.1`.
    var canonical: Tuple { Tuple(clientLocal: clientLocal.canonical, clientRemote: clientRemote.canonical) }

    /// The two ports only: one word to hash (the ephemeral port nearly tells
    /// connections apart alone), equality still compares everything.
    func hash(into hasher: inout Hasher) {
        hasher.combine(UInt32(clientLocal.port) << 16 | UInt32(clientRemote.port))
    }

    /// The two ports in one word: the tuple cache's key (equality checked after).
    var portsKey: UInt64 { UInt64(clientLocal.port) << 16 | UInt64(clientRemote.port) }
}

struct ClientNode {
    var position: RequestPosition?
    var identity: SpanIdentity
    var requestEnterNs: UInt64
    /// Set while the call's own link (rule 2) may still be refused.
    var cell: TraceCell? = nil
    /// The rule that gave it a parent in its process.
    var rule: InProcessRule? = nil
    var linked = false
}

/// One client connection's recent request nodes, in slots by position:
/// HTTP/1 number or HTTP/2 stream index modulo the slot count, so a lookup
/// is one index and no search.
struct ClientConnection {
    private(set) var id: UInt64
    private(set) var tuple: Tuple
    private(set) var isInUse = true
    /// A newer connection was registered on its tuple: the tuple's lookup no longer names it.
    var isSuperseded = false
    var nodes: [ClientNode] = []
    var closedAtNs: UInt64?
    /// When it was registered (its open record, or its first request).
    private(set) var openedNs: UInt64
    var lastActiveNs: UInt64
    /// The newest position stored: a server position past it may still come.
    var newestHTTP1: UInt64?
    var newestStream: UInt32?

    init(id: UInt64, tuple: Tuple, openedNs: UInt64) {
        self.id = id; self.tuple = tuple; self.openedNs = openedNs; self.lastActiveNs = openedNs
    }

    /// Gives the slot back to the slab (its nodes' memory too).
    mutating func free() {
        isInUse = false
        nodes = []
        closedAtNs = nil
        newestHTTP1 = nil
        newestStream = nil
    }

    static func slot(of position: RequestPosition, slots: Int) -> Int {
        switch position {
        case .http1(let sequence, _): return Int(sequence % UInt64(slots))
        case .http2(let stream): return Int((stream >> 1) % UInt32(slots))
        }
    }

    mutating func store(_ node: ClientNode, slots: Int) {
        guard let position = node.position else { return }
        let slot = Self.slot(of: position, slots: slots)
        if slot >= nodes.count {
            let empty = ClientNode(position: nil, identity: node.identity, requestEnterNs: 0)
            while nodes.count < slot { nodes.append(empty) }
            nodes.append(node)
        } else {
            nodes[slot] = node
        }
        lastActiveNs = max(lastActiveNs, node.requestEnterNs)
        switch position {
        case .http1(let sequence, _): newestHTTP1 = max(newestHTTP1 ?? 0, sequence)
        case .http2(let stream): newestStream = max(newestStream ?? 0, stream)
        }
    }

    func slot(of position: RequestPosition, slots: Int) -> Int? {
        let slot = Self.slot(of: position, slots: slots)
        return slot < nodes.count && nodes[slot].position == position ? slot : nil
    }

    func identity(at position: RequestPosition, slots: Int) -> SpanIdentity? {
        slot(of: position, slots: slots).map { nodes[$0].identity }
    }

    /// Whether `position` is past every request this connection started.
    func isNewer(_ position: RequestPosition) -> Bool {
        switch position {
        case .http1(let sequence, _): return newestHTTP1.map { sequence > $0 } ?? true
        case .http2(let stream): return newestStream.map { stream > $0 } ?? true
        }
    }
}

struct HeldSpan {
    var record: SpanRecord
    var resource: ProcessResource
    var tuple: Tuple
    var position: RequestPosition
    /// Exit of the server's read that brought the request's first byte.
    var readNs: UInt64
    var serverConnection: UInt64
    /// The request's cell, if calls took it as parent.
    var cell: TraceCell?
}
