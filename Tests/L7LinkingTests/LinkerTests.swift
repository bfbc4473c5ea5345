import L7Events
import L7Linking
import L7Protocols
import L7Spans
import XCTest

/// Rule 1 of issue 15: a server span is the child of the traced client
/// span that sent its request, matched by the connection's mirrored
/// addresses and the request's position, never a wrong parent.
final class LinkerTests: XCTestCase {
    static let clientPort: UInt16 = 40_000
    static let client = SocketAddress(ipv4: 127, 0, 0, 1, port: clientPort)
    static let server = SocketAddress(ipv4: 127, 0, 0, 1, port: 8080)

    var linker = Linker(ids: SequentialIDGenerator(firstTrace: 100, firstSpan: 100))
    var emitted: [SpanRecord] = []
    var nextServerSpan: UInt64 = 9000

    // MARK: - Fixtures

    func clientInfo(_ id: UInt64, local: SocketAddress = client, remote: SocketAddress = server) -> ConnectionInfo {
        ConnectionInfo(key: ConnectionKey(tgid: 1, connectionID: id), role: .client, local: local, remote: remote, isTLS: false)
    }

    func serverInfo(_ id: UInt64, local: SocketAddress = server, remote: SocketAddress = client) -> ConnectionInfo {
        ConnectionInfo(key: ConnectionKey(tgid: 2, connectionID: id), role: .server, local: local, remote: remote, isTLS: false)
    }

    func timing(_ t: UInt64) -> MessageTiming { MessageTiming(firstEnterNs: t, firstExitNs: t + 1, lastEnterNs: t, lastExitNs: t + 1) }

    func open(_ id: UInt64, local: SocketAddress = client, at t: UInt64 = 1) {
        linker.opened(ConnectionOpened(key: ConnectionKey(tgid: 1, connectionID: id), tid: 1, fd: 3, role: .client,
                                       local: local, remote: Self.server, timestampNs: t))
    }

    func start(_ id: UInt64, _ position: RequestPosition, at t: UInt64, local: SocketAddress = client,
               traceparent: String? = nil) {
        linker.requestStarted(RequestStarted(connection: clientInfo(id, local: local), position: position,
                                             timing: timing(t), traceparent: traceparent)) { record, _ in emitted.append(record) }
    }

    func exchange(_ info: ConnectionInfo, _ position: RequestPosition, at t: UInt64) -> Exchange {
        var e = Exchange(connection: info, request: HTTPRequestHead(method: "GET", target: "/", version: "1.1", headers: HTTPHeaders()),
                         response: HTTPResponseHead(status: 200, reason: "OK", version: "1.1", headers: HTTPHeaders()),
                         requestBodySize: 0, responseBodySize: 0, requestTiming: timing(t), responseTiming: timing(t + 10))
        e.position = position
        return e
    }

    /// The client span's ids, as the tracer would give them to SpanBuilder.
    func clientSpan(_ id: UInt64, _ position: RequestPosition, at t: UInt64) -> SpanIdentity? {
        linker.clientIdentity(for: exchange(clientInfo(id), position, at: t))
    }

    /// A server span built without a link (fresh trace, or the header's), then given to the linker.
    @discardableResult
    func serverSpan(_ id: UInt64, _ position: RequestPosition, readAt t: UInt64, remote: SocketAddress = client,
                    local: SocketAddress = server, headerTrace: TraceID? = nil) -> SpanID {
        nextServerSpan += 1
        let spanID = SpanID(nextServerSpan)
        let record = SpanRecord(traceID: headerTrace ?? TraceID(high: 7, low: nextServerSpan), spanID: spanID,
                                parentSpanID: headerTrace.map { _ in SpanID(77) }, name: "GET", kind: .server,
                                startUnixNano: t, endUnixNano: t + 10, attributes: [], statusCode: .unset,
                                flags: headerTrace == nil ? 0x101 : 0x301, pid: 2)
        linker.serverSpan(record, resource: ProcessResource(pid: 2, attributes: []),
                          of: exchange(serverInfo(id, local: local, remote: remote), position, at: t)) { record, _ in
            emitted.append(record)
        }
        return spanID
    }

    func emittedSpan(_ id: SpanID) -> SpanRecord? { emitted.first { $0.spanID == id } }

    func assertLinked(_ server: SpanID, to client: SpanIdentity?, file: StaticString = #filePath, line: UInt = #line) {
        guard let span = emittedSpan(server), let client else { return XCTFail("not emitted", file: file, line: line) }
        XCTAssertEqual(span.parentSpanID, client.spanID, file: file, line: line)
        XCTAssertEqual(span.traceID, client.traceID, file: file, line: line)
        XCTAssertEqual(span.attribute("l7trace.link"), .string("connection"), file: file, line: line)
    }

    func assertUnlinked(_ server: SpanID, file: StaticString = #filePath, line: UInt = #line) {
        guard let span = emittedSpan(server) else { return XCTFail("not emitted", file: file, line: line) }
        XCTAssertNil(span.parentSpanID, file: file, line: line)
        XCTAssertNil(span.attribute("l7trace.link"), file: file, line: line)
    }

    func http1(_ n: UInt64, exact: Bool = true) -> RequestPosition { .http1(sequence: n, exact: exact) }

    // MARK: - Rule 1

    func testKeepAliveRequestsLinkOneToOne() {
        open(1)
        var servers: [SpanID] = []
        for n in 0..<20 {
            let t = UInt64(1000 + 100 * n)
            start(1, http1(UInt64(n)), at: t)
            servers.append(serverSpan(11, http1(UInt64(n)), readAt: t + 5))
        }
        for n in 0..<20 { assertLinked(servers[n], to: clientSpan(1, http1(UInt64(n)), at: 0)) }
        XCTAssertEqual(Set(emitted.compactMap(\.parentSpanID)).count, 20)
        XCTAssertEqual(linker.counters.links, 20)
    }

    func testADualStackServerSeesTheClientAsIPv4MappedIPv6() {
        open(1)
        start(1, http1(0), at: 1000)
        let mapped = SocketAddress(family: .ipv6, bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1],
                                   port: Self.clientPort)
        let mappedServer = SocketAddress(family: .ipv6, bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1],
                                         port: 8080)
        let s = serverSpan(11, http1(0), readAt: 1005, remote: mapped, local: mappedServer)
        assertLinked(s, to: clientSpan(1, http1(0), at: 0))
    }

    func testPipelinedExactRequestsLinkPairwise() {
        open(1)
        start(1, http1(0), at: 1000)
        start(1, http1(1), at: 1000)
        start(1, http1(2), at: 1000)
        let s = (0..<3).map { serverSpan(11, http1(UInt64($0)), readAt: 1005) }
        for n in 0..<3 { assertLinked(s[n], to: clientSpan(1, http1(UInt64(n)), at: 0)) }
    }

    func testInexactPositionsNeverLink() {
        open(1)
        start(1, http1(0), at: 1000)
        start(1, http1(1, exact: false), at: 1100)
        let a = serverSpan(11, http1(0, exact: false), readAt: 1005)  // the server lost its count
        let b = serverSpan(11, http1(1), readAt: 1105)  // the client lost its count
        assertUnlinked(a)
        assertUnlinked(b)
        XCTAssertEqual(linker.heldSpans, 0, "neither waits: the answer cannot change")
    }

    func testHTTP2StreamsLinkByIdWhateverTheOrder() {
        open(1)
        start(1, .http2(stream: 1), at: 1000)
        start(1, .http2(stream: 3), at: 1001)
        start(1, .http2(stream: 5), at: 1002)
        let s5 = serverSpan(11, .http2(stream: 5), readAt: 1010)
        let s1 = serverSpan(11, .http2(stream: 1), readAt: 1010)
        let s3 = serverSpan(11, .http2(stream: 3), readAt: 1010)
        assertLinked(s1, to: clientSpan(1, .http2(stream: 1), at: 0))
        assertLinked(s3, to: clientSpan(1, .http2(stream: 3), at: 0))
        assertLinked(s5, to: clientSpan(1, .http2(stream: 5), at: 0))
        XCTAssertEqual(Set([s1, s3, s5].compactMap { emittedSpan($0)?.parentSpanID }).count, 3)
    }

    func testAServerExchangeBeforeTheClientsStartIsHeldThenLinked() {
        open(1)
        let s = serverSpan(11, http1(0), readAt: 1005)
        XCTAssertNil(emittedSpan(s), "held: the client's write record may not be consumed yet")
        XCTAssertEqual(linker.heldSpans, 1)
        start(1, http1(0), at: 1000)
        assertLinked(s, to: clientSpan(1, http1(0), at: 0))
        XCTAssertEqual(linker.heldSpans, 0)
    }

    func testAHeldSpanExpiresUnlinkedAndALateClientDoesNotLinkIt() {
        open(1)
        let s = serverSpan(11, http1(0), readAt: 1005)
        linker.advance(watermarkNs: 1006 + linker.limits.holdNs - 1) { r, _ in emitted.append(r) }
        XCTAssertNil(emittedSpan(s))
        linker.advance(watermarkNs: 1006 + linker.limits.holdNs) { r, _ in emitted.append(r) }
        assertUnlinked(s)
        start(1, http1(0), at: 1000)
        XCTAssertEqual(emitted.count, 1)
        XCTAssertEqual(linker.counters.holdExpired, 1)
        XCTAssertEqual(linker.counters.links, 0)
    }

    func testAnUntracedPeerIsHeldOnceThenNotAgain() {
        // No client connection on the tuple: maybe not consumed yet, so held once.
        let a = serverSpan(11, http1(0), readAt: 1005)
        XCTAssertEqual(linker.heldSpans, 1)
        linker.advance(watermarkNs: 1006 + linker.limits.holdNs) { r, _ in emitted.append(r) }
        assertUnlinked(a)
        // The next request on that server connection is exported at once.
        let b = serverSpan(11, http1(1), readAt: 2005)
        assertUnlinked(b)
        XCTAssertEqual(linker.heldSpans, 0)
    }

    func testAServerConnectionFoundUntracedStillWaitsOnceItsClientIsKnown() {
        // An HTTP/2 connection older than the tracer: the client is registered by its first request only.
        let a = serverSpan(11, .http2(stream: 1), readAt: 1005)
        linker.advance(watermarkNs: 1006 + linker.limits.holdNs) { r, _ in emitted.append(r) }
        assertUnlinked(a)
        start(1, .http2(stream: 3), at: 2000)
        let b = serverSpan(11, .http2(stream: 5), readAt: 2105)
        XCTAssertNil(emittedSpan(b), "the client is known: its next request's record is on its way")
        start(1, .http2(stream: 5), at: 2100)
        assertLinked(b, to: clientSpan(1, .http2(stream: 5), at: 0))
    }

    func testAPeerOnAnotherHostIsNeverHeld() {
        let remote = SocketAddress(ipv4: 10, 1, 2, 3, port: 5555)
        let s = serverSpan(11, http1(0), readAt: 1005, remote: remote, local: SocketAddress(ipv4: 10, 0, 0, 1, port: 8080))
        assertUnlinked(s)
        XCTAssertEqual(linker.heldSpans, 0)
    }

    func testAClientConnectionOlderThanTheTracerWithoutExactPositionsDoesNotLink() {
        // No open record: it is registered by its first request, whose position is inexact.
        start(1, http1(0, exact: false), at: 1000)
        let s = serverSpan(11, http1(0, exact: false), readAt: 1005)
        assertUnlinked(s)
    }

    func testAnHTTP2ConnectionOlderThanTheTracerLinksByStream() {
        start(1, .http2(stream: 41), at: 1000)
        let s = serverSpan(11, .http2(stream: 41), readAt: 1005)
        assertLinked(s, to: clientSpan(1, .http2(stream: 41), at: 0))
    }

    func testFdReuseLinksToTheNewConnectionOnly() {
        // Connection 1 used the tuple, closed; connection 2 (same fd, same source port) uses it again.
        open(1, at: 10)
        start(1, http1(0), at: 100)
        let old = serverSpan(11, http1(0), readAt: 105)
        linker.closed(1, atNs: 500)
        open(2, at: 1000)
        start(2, http1(0), at: 1100)
        let new = serverSpan(12, http1(0), readAt: 1105)
        assertLinked(old, to: clientSpan(1, http1(0), at: 0))
        assertLinked(new, to: clientSpan(2, http1(0), at: 0))
        XCTAssertNotEqual(clientSpan(1, http1(0), at: 0), clientSpan(2, http1(0), at: 0))
    }

    func testAServerReadOfAReusedTupleNeverTakesTheOldConnectionsNode() {
        open(1, at: 10)
        start(1, http1(0), at: 100)
        linker.closed(1, atNs: 500)
        // The new connection's server read comes before its client's records.
        let s = serverSpan(12, http1(0), readAt: 1105)
        XCTAssertNil(emittedSpan(s)?.parentSpanID)
    }

    func testCausalityRefusesAClientRequestWrittenAfterTheServerRead() {
        open(1)
        start(1, http1(0), at: 2000)
        let s = serverSpan(11, http1(0), readAt: 1005)
        assertUnlinked(s)
        XCTAssertEqual(linker.counters.refusedCausality, 1)
    }

    func testAClientNodeLinksOnce() {
        open(1)
        start(1, http1(0), at: 1000)
        let a = serverSpan(11, http1(0), readAt: 1005)
        let b = serverSpan(11, http1(0), readAt: 1006)
        assertLinked(a, to: clientSpan(1, http1(0), at: 0))
        assertUnlinked(b)
        XCTAssertEqual(linker.counters.refusedDuplicate, 1)
    }

    func testAClientTraceparentFixesItsIdentityAndTheServerHangsOffIt() {
        open(1)
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        start(1, http1(0), at: 1000, traceparent: header)
        let identity = clientSpan(1, http1(0), at: 0)
        XCTAssertEqual(identity?.spanID.description, "b7ad6b7169203331")
        XCTAssertEqual(identity?.traceID.description, "0af7651916cd43dd8448eb211c80319c")
        let trace = identity!.traceID
        let s = serverSpan(11, http1(0), readAt: 1005, headerTrace: trace)
        assertLinked(s, to: identity)
        XCTAssertEqual(linker.counters.headerConflicts, 0)
    }

    func testTheMatchSetsTheParentAndTheServersHeaderKeepsItsTrace() {  // rule 4
        open(1)
        start(1, http1(0), at: 1000)
        let other = TraceID(high: 5, low: 5)
        let s = serverSpan(11, http1(0), readAt: 1005, headerTrace: other)
        XCTAssertEqual(emittedSpan(s)?.parentSpanID, clientSpan(1, http1(0), at: 0)?.spanID)
        XCTAssertEqual(emittedSpan(s)?.traceID, other)
        XCTAssertEqual(linker.counters.headerConflicts, 1)
    }

    func openServer(_ id: UInt64, at t: UInt64) {
        linker.opened(ConnectionOpened(key: ConnectionKey(tgid: 2, connectionID: id), tid: 2, fd: 4, role: .server,
                                       local: Self.server, remote: Self.client, timestampNs: t))
    }

    func testAfterACaptureLossHTTP1LinksOnlyOnConnectionsOpenedLater() {
        open(1, at: 10)
        openServer(11, at: 11)
        start(1, http1(0), at: 100)
        assertLinked(serverSpan(11, http1(0), readAt: 105), to: clientSpan(1, http1(0), at: 0))
        // A whole request record may have been lost: both counts may be off by one from here on.
        linker.captureLost(atNs: 500)
        start(1, http1(1), at: 600)
        assertUnlinked(serverSpan(11, http1(1), readAt: 605))
        XCTAssertEqual(linker.counters.refusedAfterLoss, 1)
        // HTTP/2 stream ids do not depend on counting.
        start(1, .http2(stream: 1), at: 700)
        assertLinked(serverSpan(11, .http2(stream: 1), readAt: 705), to: clientSpan(1, .http2(stream: 1), at: 0))
        // A connection opened after the loss counts from its start again.
        linker.closed(1, atNs: 800)
        open(2, at: 900)
        openServer(12, at: 901)
        start(2, http1(0), at: 1000)
        assertLinked(serverSpan(12, http1(0), readAt: 1005), to: clientSpan(2, http1(0), at: 0))
    }

    // MARK: - Bounds

    func testHeldSpansAreBoundedAndTheOldestLeavesUnlinked() {
        var limits = LinkLimits()
        limits.maxHeldSpans = 2
        linker = Linker(limits: limits, ids: SequentialIDGenerator())
        let a = serverSpan(11, http1(0), readAt: 1)
        serverSpan(12, http1(0), readAt: 2)
        serverSpan(13, http1(0), readAt: 3)
        assertUnlinked(a)
        XCTAssertEqual(linker.heldSpans, 2)
        XCTAssertEqual(linker.counters.holdOverflows, 1)
        linker.flushAll { r, _ in emitted.append(r) }
        XCTAssertEqual(emitted.count, 3)
        XCTAssertEqual(linker.heldSpans, 0)
    }

    func testClientConnectionsAreBoundedAndCounted() {
        var limits = LinkLimits()
        limits.maxClientConnections = 1
        linker = Linker(limits: limits, ids: SequentialIDGenerator())
        open(1)
        start(2, http1(0), at: 10, local: SocketAddress(ipv4: 127, 0, 0, 1, port: 40_001))
        XCTAssertEqual(linker.clientConnections, 1)
        XCTAssertEqual(linker.counters.clientConnectionsFull, 1)
        XCTAssertNil(clientSpan(2, http1(0), at: 0))
    }

    func testAClientConnectionRemembersItsRecentRequestsOnly() {
        open(1)
        let slots = UInt64(linker.limits.nodesPerConnection)
        for n in 0..<(slots + 1) { start(1, http1(n), at: 1000 + n) }
        XCTAssertNil(clientSpan(1, http1(0), at: 0), "its slot was taken by request \(slots)")
        let s = serverSpan(11, http1(0), readAt: 5000)
        assertUnlinked(s)
        XCTAssertNotNil(clientSpan(1, http1(slots), at: 0))
    }

    func testAForgottenConnectionsSlotServesTheNextOneOnly() {
        open(1, at: 10)
        start(1, http1(0), at: 1000)
        linker.closed(1, atNs: 2000)
        let later = 2000 + linker.limits.closedLingerNs + 1_000_000_000
        linker.advance(watermarkNs: later) { r, _ in emitted.append(r) }
        let other = SocketAddress(ipv4: 127, 0, 0, 1, port: 40_002)
        open(2, local: other, at: later + 10)
        start(2, http1(0), at: later + 100, local: other)
        XCTAssertNil(clientSpan(1, http1(0), at: 0))
        XCTAssertEqual(linker.clientConnections, 1)
        assertLinked(serverSpan(12, http1(0), readAt: later + 105, remote: other), to: clientSpan(2, http1(0), at: 0))
    }

    func testClosedConnectionsAreForgottenAfterTheirLinger() {
        open(1)
        start(1, http1(0), at: 1000)
        linker.closed(1, atNs: 2000)
        linker.advance(watermarkNs: 2000 + linker.limits.closedLingerNs + 1_000_000_000) { r, _ in emitted.append(r) }
        XCTAssertEqual(linker.clientConnections, 0)
    }

    /// The e2e memory test: 20,000 idle connections through the linker,
    /// closed, kept 6 MB of its tables' capacity until given back.
    func testABurstOfConnectionsGivesItsCapacityBackOnceForgotten() {
        let survivor: UInt64 = 5_000
        for id in UInt64(1)...survivor {
            open(id, local: SocketAddress(ipv4: 127, 0, 0, 1, port: UInt16(10_000 + id)))
            linker.opened(ConnectionOpened(key: ConnectionKey(tgid: 2, connectionID: 100_000 + id), tid: 1, fd: 4,
                                           role: .server, local: Self.server, remote: Self.client, timestampNs: 1))
        }
        XCTAssertFalse(linker.holdsSpareCapacity, "in use")
        for id in UInt64(1)..<survivor {
            linker.closed(id, atNs: 2)
            linker.closed(100_000 + id, atNs: 2)
        }
        linker.advance(watermarkNs: 3 + linker.limits.closedLingerNs + 1_000_000_000) { r, _ in emitted.append(r) }
        XCTAssertEqual(linker.clientConnections, 1)
        XCTAssertTrue(linker.holdsSpareCapacity)
        linker.releaseSpareCapacity()
        XCTAssertFalse(linker.holdsSpareCapacity)
        XCTAssertEqual(linker.clientConnections, 1)
        // The survivor still links, found by its tuple.
        let local = SocketAddress(ipv4: 127, 0, 0, 1, port: UInt16(10_000 + survivor))
        start(survivor, http1(0), at: 10_000_000_000, local: local)
        assertLinked(serverSpan(200_000, http1(0), readAt: 10_000_000_100, remote: local),
                     to: linker.clientIdentity(for: exchange(clientInfo(survivor, local: local), http1(0), at: 10_000_000_000)))
    }
}
