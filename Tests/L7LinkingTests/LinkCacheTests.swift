import L7Events
@testable import L7Linking
import L7Protocols
import L7Spans
import XCTest

/// The caches in front of the linker's lookups (`IDCache`) are a speed-up
/// only: a collision, a freed slot or a replaced connection is a miss, never
/// another connection's entry, so the linker decides as it would without them.
final class LinkCacheTests: XCTestCase {
    static let server = SocketAddress(ipv4: 127, 0, 0, 1, port: 8080)

    var linker = Linker(ids: SequentialIDGenerator(firstTrace: 100, firstSpan: 100))
    var emitted: [SpanRecord] = []
    var nextServerSpan: UInt64 = 9000

    /// A key other than `key` that shares its slot in `cache`.
    func collidingKey<Value>(with key: UInt64, in cache: IDCache<Value>) -> UInt64 {
        var other = key + 1
        while cache.slot(of: other) != cache.slot(of: key) { other += 1 }
        return other
    }

    func local(_ port: UInt16, host: UInt8 = 1) -> SocketAddress { SocketAddress(ipv4: 127, 0, 0, host, port: port) }

    func timing(_ t: UInt64, tid: UInt32 = 0) -> MessageTiming {
        MessageTiming(firstEnterNs: t, firstExitNs: t + 1, lastEnterNs: t, lastExitNs: t + 1, firstTid: tid)
    }

    func clientInfo(_ id: UInt64, _ local: SocketAddress) -> ConnectionInfo {
        ConnectionInfo(key: ConnectionKey(tgid: 1, connectionID: id), role: .client, local: local, remote: Self.server,
                       isTLS: false)
    }

    func serverInfo(_ id: UInt64, _ remote: SocketAddress) -> ConnectionInfo {
        ConnectionInfo(key: ConnectionKey(tgid: 2, connectionID: id), role: .server, local: Self.server, remote: remote,
                       isTLS: false)
    }

    func open(_ id: UInt64, _ local: SocketAddress, at t: UInt64 = 1) {
        linker.opened(ConnectionOpened(key: ConnectionKey(tgid: 1, connectionID: id), tid: 1, fd: 3, role: .client,
                                       local: local, remote: Self.server, timestampNs: t))
    }

    func openServer(_ id: UInt64, acceptedBy tid: UInt32) {
        linker.opened(ConnectionOpened(key: ConnectionKey(tgid: 2, connectionID: id), tid: tid, fd: 4, role: .server,
                                       local: Self.server, remote: local(40_000), timestampNs: 1))
    }

    func start(_ id: UInt64, _ local: SocketAddress, _ n: UInt64, at t: UInt64) {
        linker.requestStarted(RequestStarted(connection: clientInfo(id, local), position: .http1(sequence: n, exact: true),
                                             timing: timing(t))) { record, _ in emitted.append(record) }
    }

    /// A server request read by `tid` (rule 2's bookkeeping only).
    func read(_ id: UInt64, _ n: UInt64, tid: UInt32, at t: UInt64) {
        linker.requestStarted(RequestStarted(connection: serverInfo(id, local(40_000)), position: .http1(sequence: n, exact: true),
                                             timing: timing(t, tid: tid))) { record, _ in emitted.append(record) }
    }

    func exchange(_ info: ConnectionInfo, _ n: UInt64, at t: UInt64) -> Exchange {
        var e = Exchange(connection: info, request: HTTPRequestHead(method: "GET", target: "/", version: "1.1", headers: HTTPHeaders()),
                         response: HTTPResponseHead(status: 200, reason: "OK", version: "1.1", headers: HTTPHeaders()),
                         requestBodySize: 0, responseBodySize: 0, requestTiming: timing(t), responseTiming: timing(t + 10))
        e.position = .http1(sequence: n, exact: true)
        return e
    }

    func clientIdentity(_ id: UInt64, _ local: SocketAddress, _ n: UInt64) -> SpanIdentity? {
        linker.clientIdentity(for: exchange(clientInfo(id, local), n, at: 0))
    }

    /// A server span for request `n` read at `t` from the client at `remote`: its parent, if linked.
    func serverParent(_ id: UInt64, from remote: SocketAddress, _ n: UInt64, readAt t: UInt64) -> SpanID? {
        nextServerSpan += 1
        let spanID = SpanID(nextServerSpan)
        let record = SpanRecord(traceID: TraceID(high: 7, low: nextServerSpan), spanID: spanID, parentSpanID: nil,
                                name: "GET", kind: .server, startUnixNano: t, endUnixNano: t + 10, attributes: [],
                                statusCode: .unset, flags: 0x101, pid: 2)
        linker.serverSpan(record, resource: ProcessResource(pid: 2, attributes: []),
                          of: exchange(serverInfo(id, remote), n, at: t)) { record, _ in emitted.append(record) }
        return emitted.first { $0.spanID == spanID }?.parentSpanID
    }

    // MARK: - The cache itself

    func testACollisionIsAMissNeverTheOtherKeysValue() {
        var cache = IDCache<Int>(bits: 4)
        let a: UInt64 = 7
        let b = collidingKey(with: a, in: cache)
        cache.store(1, for: a)
        XCTAssertEqual(cache.value(for: a), 1)
        XCTAssertNil(cache.value(for: b))
        cache.store(2, for: b)
        XCTAssertNil(cache.value(for: a), "b took the slot")
        XCTAssertEqual(cache.value(for: b), 2)
        cache.remove(a)
        XCTAssertEqual(cache.value(for: b), 2, "removing a key leaves the one in its slot")
        cache.remove(b)
        XCTAssertNil(cache.value(for: b))
        cache.store(3, for: a)
        cache.removeAll()
        XCTAssertNil(cache.value(for: a))
        XCTAssertNil(cache.value(for: 0), "an empty entry answers no key, 0 included")
    }

    func testAStoredNilIsKnownAbsent() {
        var cache = IDCache<UInt32?>(bits: 4)
        cache.store(nil, for: 5)
        XCTAssertEqual(cache.value(for: 5), .some(nil))
        XCTAssertEqual(cache.value(for: 6), nil)
        cache.store(9, for: 5)
        XCTAssertEqual(cache.value(for: 5), .some(9))
    }

    // MARK: - Through the linker

    func testClientConnectionsSharingACacheSlotKeepTheirOwnNodes() {
        let a: UInt64 = 1
        let b = collidingKey(with: a, in: IDCache<Int>())
        let (localA, localB) = (local(40_001), local(40_002))
        open(a, localA)
        open(b, localB)
        for n in UInt64(0)..<3 {
            start(a, localA, n, at: 1000 + 100 * n)
            start(b, localB, n, at: 1010 + 100 * n)
            XCTAssertEqual(serverParent(11, from: localA, n, readAt: 1020 + 100 * n), clientIdentity(a, localA, n)?.spanID)
            XCTAssertEqual(serverParent(12, from: localB, n, readAt: 1030 + 100 * n), clientIdentity(b, localB, n)?.spanID)
        }
        XCTAssertNotEqual(clientIdentity(a, localA, 0), clientIdentity(b, localB, 0))
        XCTAssertEqual(linker.counters.links, 6)
    }

    func testAFreedSlotIsNotTakenForTheConnectionThatHadIt() {
        let (old, new) = (local(40_001), local(40_002))
        open(1, old, at: 10)
        start(1, old, 0, at: 1000)
        XCTAssertNotNil(clientIdentity(1, old, 0))  // cached
        linker.closed(1, atNs: 2000)
        let later = 2000 + linker.limits.closedLingerNs + 1_000_000_000
        linker.advance(watermarkNs: later) { r, _ in emitted.append(r) }
        XCTAssertEqual(linker.clientConnections, 0)
        XCTAssertNil(clientIdentity(1, old, 0), "forgotten")
        // Connection 2 takes the freed slot; connection 1's id must not find it.
        open(2, new, at: later + 10)
        start(2, new, 0, at: later + 100)
        XCTAssertNil(clientIdentity(1, old, 0))
        XCTAssertNotNil(clientIdentity(2, new, 0))
        linker.closed(1, atNs: later + 101)  // a late close of the forgotten connection closes nothing else
        XCTAssertEqual(serverParent(12, from: new, 0, readAt: later + 105), clientIdentity(2, new, 0)?.spanID)
    }

    func testTuplesSharingTheirPortsLinkEachToItsOwnClient() {
        // The tuple cache is keyed by the two ports: these two share a key.
        let (one, two) = (local(40_000, host: 1), local(40_000, host: 2))
        open(1, one)
        open(2, two)
        for n in UInt64(0)..<3 {
            start(1, one, n, at: 1000 + 100 * n)
            start(2, two, n, at: 1010 + 100 * n)
            XCTAssertEqual(serverParent(12, from: two, n, readAt: 1020 + 100 * n), clientIdentity(2, two, n)?.spanID)
            XCTAssertEqual(serverParent(11, from: one, n, readAt: 1030 + 100 * n), clientIdentity(1, one, n)?.spanID)
        }
        XCTAssertEqual(linker.counters.links, 6)
    }

    func testANewConnectionOnATupleReplacesTheOldOneTheCacheRemembers() {
        // The old connection's close was never seen: the new one on its tuple ends it.
        let address = local(40_001)
        open(1, address, at: 10)
        start(1, address, 0, at: 100)
        XCTAssertEqual(serverParent(11, from: address, 0, readAt: 105), clientIdentity(1, address, 0)?.spanID)
        open(2, address, at: 1000)
        start(2, address, 0, at: 1100)
        let parent = serverParent(12, from: address, 0, readAt: 1105)
        XCTAssertNotNil(parent)
        XCTAssertEqual(parent, clientIdentity(2, address, 0)?.spanID)
        XCTAssertNotEqual(parent, clientIdentity(1, address, 0)?.spanID)
    }

    func testTheAcceptingThreadOfAServerConnectionIsNeverAnothersFromTheCache() {
        let a: UInt64 = 100
        let b = collidingKey(with: a, in: IDCache<UInt32?>())
        openServer(a, acceptedBy: 5)
        openServer(b, acceptedBy: 6)  // takes a's cache slot
        read(a, 0, tid: 5, at: 10)
        XCTAssertEqual(linker.activity(2, create: false)?.severalReaders, false, "a was accepted by 5, not 6")
        // A connection older than the tracer has no accepting thread (cached
        // as absent) until its open is seen.
        let c = collidingKey(with: b, in: IDCache<UInt32?>())
        read(c, 0, tid: 5, at: 20)
        XCTAssertEqual(linker.activity(2, create: false)?.severalReaders, false)
        openServer(c, acceptedBy: 9)
        read(c, 1, tid: 5, at: 30)
        XCTAssertEqual(linker.activity(2, create: false)?.severalReaders, true, "c was accepted by 9")
    }

    func testAClosedServerConnectionsAcceptingThreadIsForgotten() {
        openServer(100, acceptedBy: 5)
        XCTAssertEqual(linker.acceptingThread(of: 100), 5)
        linker.closed(100, atNs: 50)
        XCTAssertNil(linker.acceptingThread(of: 100))
        openServer(100, acceptedBy: 7)
        XCTAssertEqual(linker.acceptingThread(of: 100), 7)
    }
}
