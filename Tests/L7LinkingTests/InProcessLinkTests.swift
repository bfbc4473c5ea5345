import L7Events
import L7Linking
import L7Protocols
import L7Spans
import XCTest

/// Rules 2 and 3 of issue 15: a call made while its process serves a
/// request is that request's child when exactly one request can be its
/// cause, and a forwarded `traceparent` names its own span; never a wrong
/// parent. Spans are built by SpanBuilder as the tracer builds them.
final class InProcessLinkTests: XCTestCase {
    var linker = Linker(ids: SequentialIDGenerator(firstTrace: 100, firstSpan: 100))
    let spans = SpanBuilder(clock: ClockConversion(offsetNs: 0), ids: SequentialIDGenerator(firstTrace: 5000, firstSpan: 5000))
    var emitted: [SpanRecord] = []

    /// One TCP connection between a client process and a server process.
    struct Hop {
        var client: UInt32
        var clientConnection: UInt64
        var server: UInt32
        var serverConnection: UInt64
        var clientAddress: SocketAddress
        var serverAddress: SocketAddress
    }

    static func address(_ port: UInt16, host: UInt8 = 1) -> SocketAddress { SocketAddress(ipv4: 127, 0, 0, host, port: port) }

    /// curl (1) → nginx (2) → orders (3) → stock (4), one connection per hop.
    let curlToNginx = Hop(client: 1, clientConnection: 1, server: 2, serverConnection: 11,
                          clientAddress: address(40_001), serverAddress: address(8080))
    let nginxToOrders = Hop(client: 2, clientConnection: 2, server: 3, serverConnection: 12,
                            clientAddress: address(40_002), serverAddress: address(8081))
    let ordersToStock = Hop(client: 3, clientConnection: 3, server: 4, serverConnection: 13,
                            clientAddress: address(40_003), serverAddress: address(8082))

    /// A request from another host into `server` (its peer is never waited for).
    func fromOutside(_ server: UInt32, connection: UInt64, port: UInt16 = 50_000) -> Hop {
        Hop(client: 99, clientConnection: 9999, server: server, serverConnection: connection,
            clientAddress: SocketAddress(ipv4: 10, 0, 0, 9, port: port), serverAddress: Self.address(8081))
    }

    func info(_ hop: Hop, _ role: ConnectionRole) -> ConnectionInfo {
        role == .client
            ? ConnectionInfo(key: ConnectionKey(tgid: hop.client, connectionID: hop.clientConnection), role: .client,
                             local: hop.clientAddress, remote: hop.serverAddress, isTLS: false)
            : ConnectionInfo(key: ConnectionKey(tgid: hop.server, connectionID: hop.serverConnection), role: .server,
                             local: hop.serverAddress, remote: hop.clientAddress, isTLS: false)
    }

    func timing(_ t: UInt64, tid: UInt32) -> MessageTiming {
        MessageTiming(firstEnterNs: t, firstExitNs: t + 1, lastEnterNs: t, lastExitNs: t + 1, firstTid: tid)
    }

    func started(_ hop: Hop, _ role: ConnectionRole, _ n: UInt64, tid: UInt32, at t: UInt64, traceparent: String?) {
        linker.requestStarted(RequestStarted(connection: info(hop, role), position: .http1(sequence: n, exact: true),
                                             timing: timing(t, tid: tid), traceparent: traceparent)) { r, _ in emitted.append(r) }
    }

    /// The request's head was written (client) / read (server) at `t` by `tid`.
    func call(_ hop: Hop, _ n: UInt64 = 0, tid: UInt32, at t: UInt64, traceparent: String? = nil) {
        started(hop, .client, n, tid: tid, at: t, traceparent: traceparent)
    }

    func read(_ hop: Hop, _ n: UInt64 = 0, tid: UInt32, at t: UInt64, traceparent: String? = nil) {
        started(hop, .server, n, tid: tid, at: t, traceparent: traceparent)
    }

    func exchange(_ hop: Hop, _ role: ConnectionRole, _ n: UInt64, path: String, request: MessageTiming,
                  response: MessageTiming, traceparent: String?) -> Exchange {
        let headers = HTTPHeaders(traceparent.map { [(name: "traceparent", value: $0)] } ?? [])
        var e = Exchange(connection: info(hop, role), request: HTTPRequestHead(method: "GET", target: path, version: "1.1", headers: headers),
                         response: HTTPResponseHead(status: 200, reason: "OK", version: "1.1", headers: HTTPHeaders()),
                         requestBodySize: 0, responseBodySize: 0, requestTiming: request, responseTiming: response)
        e.position = .http1(sequence: n, exact: true)
        return e
    }

    /// The call's response was read completely at `end` (its exchange ends).
    func callEnded(_ hop: Hop, _ n: UInt64 = 0, path: String = "/", tid: UInt32, wroteAt t: UInt64, end: UInt64,
                   traceparent: String? = nil) {
        let e = exchange(hop, .client, n, path: path, request: timing(t, tid: tid),
                         response: MessageTiming(firstEnterNs: end - 2, firstExitNs: end - 1, lastEnterNs: end - 1,
                                                 lastExitNs: end, firstTid: tid), traceparent: traceparent)
        linker.clientSpan(e, resource: ProcessResource(pid: hop.client, attributes: []),
                          build: { spans.span(for: e, identity: $0) }) { r, _ in emitted.append(r) }
    }

    /// The server began answering at `respond` on `responseTid` and finished at `respond + 5`.
    /// `lastWrite`: when the response's last write began (by default just after its first).
    func answered(_ hop: Hop, _ n: UInt64 = 0, path: String = "/", tid: UInt32, readAt t: UInt64, respond: UInt64,
                  lastWrite: UInt64? = nil, responseTid: UInt32? = nil, traceparent: String? = nil) {
        let last = lastWrite ?? respond + 4
        let e = exchange(hop, .server, n, path: path, request: timing(t, tid: tid),
                         response: MessageTiming(firstEnterNs: respond, firstExitNs: respond + 1, lastEnterNs: last,
                                                 lastExitNs: last + 1, firstTid: responseTid ?? tid),
                         traceparent: traceparent)
        let record = spans.span(for: e, identity: linker.serverIdentity(for: e))
        linker.serverSpan(record, resource: ProcessResource(pid: hop.server, attributes: []), of: e) { r, _ in
            emitted.append(r)
        }
    }

    func advance(to t: UInt64) { linker.advance(watermarkNs: t) { r, _ in emitted.append(r) } }

    /// The span emitted so far (pending spans whose trace is final are released first, as each poll does).
    func span(_ pid: UInt32, _ kind: SpanKind, path: String = "/") -> SpanRecord? {
        linker.releaseResolved { r, _ in emitted.append(r) }
        return emitted.last { $0.pid == pid && $0.kind == kind && $0.attribute("url.path") == .string(path) }
    }

    func assertChild(_ child: SpanRecord?, of parent: SpanRecord?, by rule: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let child, let parent else { return XCTFail("span missing", file: file, line: line) }
        XCTAssertEqual(child.parentSpanID, parent.spanID, file: file, line: line)
        XCTAssertEqual(child.traceID, parent.traceID, file: file, line: line)
        XCTAssertEqual(child.attribute("l7trace.link"), .string(rule), file: file, line: line)
    }

    func assertRoot(_ span: SpanRecord?, notIn other: SpanRecord?, file: StaticString = #filePath, line: UInt = #line) {
        guard let span, let other else { return XCTFail("span missing", file: file, line: line) }
        XCTAssertNil(span.parentSpanID, file: file, line: line)
        XCTAssertNil(span.attribute("l7trace.link"), file: file, line: line)
        XCTAssertNotEqual(span.traceID, other.traceID, file: file, line: line)
    }

    /// A thread-per-request server seen serving on two threads (2a needs it).
    func servedOnTwoThreads(_ pid: UInt32) {
        for (n, tid) in [(UInt64(0), UInt32(70)), (1, 71)] {
            let hop = fromOutside(pid, connection: 700 + n, port: 50_100 + UInt16(n))
            read(hop, tid: tid, at: 10 + n)
            answered(hop, path: "/warmup", tid: tid, readAt: 10 + n, respond: 20 + n)
        }
    }

    // MARK: - 2a, thread

    func testACallLinksToTheRequestItsThreadServes() {
        let outside = fromOutside(3, connection: 12)
        servedOnTwoThreads(3)
        read(outside, tid: 30, at: 100)
        read(fromOutside(3, connection: 13, port: 50_001), tid: 31, at: 101)  // another thread's request: no matter
        call(ordersToStock, tid: 30, at: 110)
        callEnded(ordersToStock, tid: 30, wroteAt: 110, end: 150)
        XCTAssertTrue(emitted.filter { $0.kind == .client }.isEmpty, "held until its check")
        answered(outside, tid: 30, readAt: 100, respond: 160)
        assertChild(span(3, .client), of: span(3, .server), by: "thread")
        XCTAssertEqual(linker.counters.linksThread, 1)
        XCTAssertEqual(linker.pendingSpans, 0)
    }

    /// ThreadingHTTPServer: the main thread accepts, a thread per connection reads and answers.
    func testAConnectionReadByAnotherThreadThanItsAcceptorShowsThreads() {
        let outside = fromOutside(3, connection: 12)
        linker.opened(ConnectionOpened(key: ConnectionKey(tgid: 3, connectionID: 12), tid: 3, fd: 5, role: .server,
                                       local: outside.serverAddress, remote: outside.clientAddress, timestampNs: 90))
        read(outside, tid: 30, at: 100)
        call(ordersToStock, tid: 30, at: 110)
        callEnded(ordersToStock, tid: 30, wroteAt: 110, end: 150)
        answered(outside, tid: 30, readAt: 100, respond: 160)
        assertChild(span(3, .client), of: span(3, .server), by: "thread")
    }

    func testAThreadThatReadASecondRequestBeforeCallingIsAmbiguous() {
        servedOnTwoThreads(3)
        let first = fromOutside(3, connection: 12), second = fromOutside(3, connection: 13, port: 50_001)
        read(first, tid: 30, at: 100)
        read(second, tid: 30, at: 105)
        call(ordersToStock, tid: 30, at: 110)
        callEnded(ordersToStock, tid: 30, wroteAt: 110, end: 150)
        answered(first, tid: 30, readAt: 100, respond: 160)
        answered(second, path: "/2", tid: 30, readAt: 105, respond: 170)
        assertRoot(span(3, .client), notIn: span(3, .server))
        XCTAssertEqual(linker.counters.refusedAmbiguous, 1)
    }

    func testAResponseWrittenByAnotherThreadRefusesTheLinkAndTheRule() {
        servedOnTwoThreads(3)
        let outside = fromOutside(3, connection: 12)
        read(outside, tid: 30, at: 100)
        call(ordersToStock, tid: 30, at: 110)
        callEnded(ordersToStock, tid: 30, wroteAt: 110, end: 150)
        answered(outside, tid: 30, readAt: 100, respond: 160, responseTid: 31)
        assertRoot(span(3, .client), notIn: span(3, .server))
        XCTAssertEqual(linker.counters.refusedThreadHop, 1)
        // The process no longer links by thread: a second request on thread 30 while another is open elsewhere.
        let next = fromOutside(3, connection: 14, port: 50_002)
        read(next, tid: 30, at: 200)
        read(fromOutside(3, connection: 15, port: 50_003), tid: 32, at: 201)
        call(ordersToStock, 1, tid: 30, at: 210)
        callEnded(ordersToStock, 1, path: "/next", tid: 30, wroteAt: 210, end: 250)
        answered(next, tid: 30, readAt: 200, respond: 260)
        XCTAssertNil(span(3, .client, path: "/next")?.parentSpanID)
    }

    func testACallThatEndsAfterTheAnswerBeganIsRefused() {
        servedOnTwoThreads(3)
        let outside = fromOutside(3, connection: 12)
        read(outside, tid: 30, at: 100)
        call(ordersToStock, tid: 30, at: 110)
        answered(outside, tid: 30, readAt: 100, respond: 140)  // answered before the call's response was read
        callEnded(ordersToStock, tid: 30, wroteAt: 110, end: 150)
        assertRoot(span(3, .client), notIn: span(3, .server))
        XCTAssertEqual(linker.counters.refusedLate, 1)
    }

    func testACallThatFailedIsNotLinkedAndDoesNotFlagTheProcess() {
        servedOnTwoThreads(3)
        let outside = fromOutside(3, connection: 12)
        read(outside, tid: 30, at: 100)
        call(ordersToStock, tid: 30, at: 110)
        var e = exchange(ordersToStock, .client, 0, path: "/", request: timing(110, tid: 30),
                         response: timing(150, tid: 30), traceparent: nil)
        e.response = nil
        e.responseTiming = nil
        e.failure = .connectionClosed
        linker.clientSpan(e, resource: ProcessResource(pid: 3, attributes: []),
                          build: { spans.span(for: e, identity: $0) }) { r, _ in emitted.append(r) }
        answered(outside, tid: 30, readAt: 100, respond: 160)
        XCTAssertNil(span(3, .client)?.parentSpanID)
        XCTAssertEqual(linker.counters.refusedUnverifiable, 1)
        // The next call of the thread links.
        let next = fromOutside(3, connection: 14, port: 50_002)
        read(next, tid: 30, at: 200)
        call(ordersToStock, 1, tid: 30, at: 210)
        callEnded(ordersToStock, 1, path: "/next", tid: 30, wroteAt: 210, end: 250)
        answered(next, tid: 30, readAt: 200, respond: 260)
        XCTAssertEqual(span(3, .client, path: "/next")?.attribute("l7trace.link"), .string("thread"))
    }

    func testAnUnansweredRequestKeepsItsLinkToItsClient() {
        call(curlToNginx, tid: 10, at: 100)
        read(curlToNginx, tid: 20, at: 101)
        call(nginxToOrders, tid: 20, at: 110)
        var e = exchange(curlToNginx, .server, 0, path: "/", request: timing(101, tid: 20),
                         response: timing(150, tid: 20), traceparent: nil)
        e.response = nil
        e.responseTiming = nil
        e.failure = .connectionClosed
        let record = spans.span(for: e, identity: linker.serverIdentity(for: e))
        linker.serverSpan(record, resource: ProcessResource(pid: 2, attributes: []), of: e) { r, _ in emitted.append(r) }
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 150)
        callEnded(curlToNginx, tid: 10, wroteAt: 100, end: 156)
        let client = span(1, .client), server = span(2, .server)
        XCTAssertEqual(server?.parentSpanID, client?.spanID, "rule 1 still links it")
        XCTAssertEqual(server?.traceID, client?.traceID)
        XCTAssertNil(span(2, .client)?.parentSpanID, "its call cannot be checked: not linked")
    }

    func testGoProcessesAreNotLinkedInside() {
        linker.isGoProcess = { $0 == 3 }
        let outside = fromOutside(3, connection: 12)
        read(outside, tid: 30, at: 100)
        call(ordersToStock, tid: 30, at: 110)
        callEnded(ordersToStock, tid: 30, wroteAt: 110, end: 150)
        answered(outside, tid: 30, readAt: 100, respond: 160)
        XCTAssertNil(span(3, .client)?.parentSpanID)
        XCTAssertEqual(linker.counters.refusedRuntime, 1)
    }

    // MARK: - 2b, event loop

    func testAnEventLoopWithOneRequestInFlightLinks() {
        let outside = fromOutside(2, connection: 11)
        read(outside, tid: 20, at: 100)
        call(nginxToOrders, tid: 20, at: 110)
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 150)
        answered(outside, tid: 20, readAt: 100, respond: 160)
        assertChild(span(2, .client), of: span(2, .server), by: "event_loop")
        XCTAssertEqual(linker.counters.linksEventLoop, 1)
    }

    /// nginx streams a large upstream response: it begins answering before
    /// its call's response is fully read, and ends after. Still nested.
    func testAStreamingProxyWhoseAnswerBeganBeforeItsCallEndedLinks() {
        let outside = fromOutside(2, connection: 11)
        read(outside, tid: 20, at: 100)
        call(nginxToOrders, tid: 20, at: 110)
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 150)
        answered(outside, tid: 20, readAt: 100, respond: 130, lastWrite: 160)
        assertChild(span(2, .client), of: span(2, .server), by: "event_loop")
        XCTAssertEqual(linker.counters.refusedLate, 0)
    }

    func testAnEventLoopWithTwoRequestsInFlightDoesNotLink() {
        let a = fromOutside(2, connection: 11), b = fromOutside(2, connection: 12, port: 50_001)
        read(a, tid: 20, at: 100)
        read(b, tid: 20, at: 101)
        call(nginxToOrders, tid: 20, at: 110)
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 150)
        answered(a, tid: 20, readAt: 100, respond: 160)
        answered(b, path: "/b", tid: 20, readAt: 101, respond: 161)
        XCTAssertNil(span(2, .client)?.parentSpanID)
        XCTAssertEqual(linker.counters.refusedAmbiguous, 1)
        XCTAssertEqual(linker.pendingSpans, 0)
    }

    func testAProcessThatCallsWhileServingNothingIsNeverLinkedByEventLoop() {
        call(nginxToOrders, tid: 20, at: 50)  // a timer, a health check
        callEnded(nginxToOrders, path: "/health", tid: 20, wroteAt: 50, end: 60)
        let outside = fromOutside(2, connection: 11)
        read(outside, tid: 20, at: 100)
        call(nginxToOrders, 1, tid: 20, at: 110)
        callEnded(nginxToOrders, 1, tid: 20, wroteAt: 110, end: 150)
        answered(outside, tid: 20, readAt: 100, respond: 160)
        XCTAssertNil(span(2, .client)?.parentSpanID)
        XCTAssertEqual(linker.counters.spontaneousCalls, 1)
        XCTAssertEqual(linker.counters.refusedFlagged, 1)
    }

    func testAnEventLoopListeningOnAPortNotTracedDoesNotLink() {
        linker.isFullyVisible = { $0 != 2 }  // it may serve requests we never see
        let outside = fromOutside(2, connection: 11)
        read(outside, tid: 20, at: 100)
        call(nginxToOrders, tid: 20, at: 110)
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 150)
        answered(outside, tid: 20, readAt: 100, respond: 160)
        XCTAssertNil(span(2, .client)?.parentSpanID)
        XCTAssertEqual(linker.counters.refusedFlagged, 1)
    }

    func testAFailedEventLoopCheckFlagsTheProcess() {
        let outside = fromOutside(2, connection: 11)
        read(outside, tid: 20, at: 100)
        call(nginxToOrders, tid: 21, at: 110)  // another thread: not 2a's; checked on time only
        answered(outside, tid: 20, readAt: 100, respond: 140)
        callEnded(nginxToOrders, tid: 21, wroteAt: 110, end: 150)
        XCTAssertNil(span(2, .client)?.parentSpanID)
        XCTAssertEqual(linker.counters.refusedLate, 1)
        let next = fromOutside(2, connection: 12, port: 50_001)
        read(next, tid: 20, at: 200)
        call(nginxToOrders, 1, tid: 20, at: 210)
        callEnded(nginxToOrders, 1, path: "/next", tid: 20, wroteAt: 210, end: 250)
        answered(next, tid: 20, readAt: 200, respond: 260)
        XCTAssertNil(span(2, .client, path: "/next")?.parentSpanID)
    }

    func testAnUncheckedLinkIsRefusedAtItsDeadline() {
        let outside = fromOutside(2, connection: 11)
        read(outside, tid: 20, at: 100)
        call(nginxToOrders, tid: 20, at: 110)
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 150)
        advance(to: 110 + linker.limits.maxPendingNs - 1)
        XCTAssertEqual(linker.pendingSpans, 1)
        advance(to: 110 + linker.limits.maxPendingNs)
        XCTAssertEqual(linker.pendingSpans, 0)
        XCTAssertNil(span(2, .client)?.parentSpanID)
        XCTAssertNil(span(2, .client)?.attribute("l7trace.link"))
        XCTAssertEqual(linker.counters.pendingExpired, 1)
    }

    // MARK: - 2c and 3, headers

    static let trace = "0af7651916cd43dd8448eb211c80319c"
    static let header = "00-\(trace)-b7ad6b7169203331-01"

    func testACurlHeaderNamesTheClientSpan() {
        call(curlToNginx, tid: 10, at: 100, traceparent: Self.header)
        callEnded(curlToNginx, tid: 10, wroteAt: 100, end: 150, traceparent: Self.header)
        XCTAssertEqual(span(1, .client)?.spanID, SpanID(0xb7ad6b7169203331))
        XCTAssertEqual(span(1, .client)?.traceID.description, Self.trace)
        XCTAssertNil(span(1, .client)?.parentSpanID)
    }

    func testAReusedHeaderGetsANewIdUnderIt() {
        call(curlToNginx, 0, tid: 10, at: 100, traceparent: Self.header)
        callEnded(curlToNginx, 0, tid: 10, wroteAt: 100, end: 150, traceparent: Self.header)
        call(curlToNginx, 1, tid: 10, at: 200, traceparent: Self.header)
        callEnded(curlToNginx, 1, path: "/2", tid: 10, wroteAt: 200, end: 250, traceparent: Self.header)
        let second = span(1, .client, path: "/2")
        XCTAssertNotEqual(second?.spanID, SpanID(0xb7ad6b7169203331))
        XCTAssertEqual(second?.parentSpanID, SpanID(0xb7ad6b7169203331))
        XCTAssertEqual(second?.traceID.description, Self.trace)
        XCTAssertEqual(linker.counters.headerReused, 1)
    }

    func testAForwardedHeaderLinksByHeaderWithTwoInFlight() {
        let a = fromOutside(2, connection: 11), b = fromOutside(2, connection: 12, port: 50_001)
        let other = "00-\(Self.trace.dropLast(4))beef-00f067aa0ba902b7-01"
        read(a, tid: 20, at: 100, traceparent: Self.header)
        read(b, tid: 20, at: 101, traceparent: other)
        call(nginxToOrders, tid: 20, at: 110, traceparent: Self.header)
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 150, traceparent: Self.header)
        answered(a, tid: 20, readAt: 100, respond: 160, traceparent: Self.header)
        answered(b, path: "/b", tid: 20, readAt: 101, respond: 161, traceparent: other)
        let client = span(2, .client)
        assertChild(client, of: span(2, .server), by: "header")
        XCTAssertNotEqual(client?.spanID, SpanID(0xb7ad6b7169203331), "not the header's id: that is curl's span")
        XCTAssertEqual(client?.traceID.description, Self.trace)
    }

    // MARK: - The chain

    /// curl → nginx → orders → stock, every record in the worst order the
    /// ring allows: each server's exchange ends before its client's, and
    /// the innermost spans end first.
    /// `curlLast`: curl's request record is consumed after everything
    /// else (one ring, two CPUs: its write's record is written at its exit).
    func chain(traceparent: String?, curlLast: Bool = false) -> [SpanRecord] {
        servedOnTwoThreads(3)
        let forward = traceparent  // nginx forwards the header; orders does not
        if !curlLast { call(curlToNginx, tid: 10, at: 100, traceparent: traceparent) }
        read(curlToNginx, tid: 20, at: 101, traceparent: traceparent)
        call(nginxToOrders, tid: 20, at: 110, traceparent: forward)
        read(nginxToOrders, tid: 30, at: 111, traceparent: forward)
        call(ordersToStock, tid: 30, at: 120)
        read(ordersToStock, tid: 40, at: 121)
        answered(ordersToStock, tid: 40, readAt: 121, respond: 130)
        callEnded(ordersToStock, tid: 30, wroteAt: 120, end: 136)
        answered(nginxToOrders, tid: 30, readAt: 111, respond: 140, traceparent: forward)
        callEnded(nginxToOrders, tid: 20, wroteAt: 110, end: 146, traceparent: forward)
        answered(curlToNginx, tid: 20, readAt: 101, respond: 150, traceparent: traceparent)
        if curlLast {
            XCTAssertEqual(emitted.filter { $0.pid != 3 || $0.attribute("url.path") != .string("/warmup") }.count, 0,
                           "every span waits for curl's")
            call(curlToNginx, tid: 10, at: 100, traceparent: traceparent)
        }
        callEnded(curlToNginx, tid: 10, wroteAt: 100, end: 156, traceparent: traceparent)
        advance(to: 200)
        return [span(1, .client), span(2, .server), span(2, .client), span(3, .server), span(3, .client),
                span(4, .server)].compactMap { $0 }
    }

    func testTheChainIsOneTraceWithTheRightParents() {
        let s = chain(traceparent: nil)
        XCTAssertEqual(s.count, 6)
        guard s.count == 6 else { return }
        XCTAssertEqual(Set(s.map(\.traceID)).count, 1)
        XCTAssertNil(s[0].parentSpanID)
        for i in 1..<6 { XCTAssertEqual(s[i].parentSpanID, s[i - 1].spanID, "span \(i)") }
        XCTAssertEqual(s.map { $0.attribute("l7trace.link") },
                       [nil, .string("connection"), .string("event_loop"), .string("connection"), .string("thread"),
                        .string("connection")])
        XCTAssertEqual(linker.pendingSpans, 0)
    }

    func testTheChainLinksWhenCurlsRecordComesLast() {
        let s = chain(traceparent: nil, curlLast: true)
        XCTAssertEqual(s.count, 6)
        guard s.count == 6 else { return }
        XCTAssertEqual(Set(s.map(\.traceID)).count, 1)
        for i in 1..<6 { XCTAssertEqual(s[i].parentSpanID, s[i - 1].spanID, "span \(i)") }
        XCTAssertEqual(linker.pendingSpans, 0)
        XCTAssertEqual(linker.heldSpans, 0)
    }

    func testTheChainWithACurlHeaderIsTheHeadersTraceWithNoIdTwice() {
        let s = chain(traceparent: Self.header)
        XCTAssertEqual(s.count, 6)
        guard s.count == 6 else { return }
        XCTAssertEqual(Set(s.map(\.traceID.description)), [Self.trace])
        XCTAssertEqual(s[0].spanID, SpanID(0xb7ad6b7169203331))
        XCTAssertNotEqual(s[2].spanID, s[0].spanID)
        XCTAssertEqual(Set(s.map(\.spanID)).count, 6)
        for i in 1..<6 { XCTAssertEqual(s[i].parentSpanID, s[i - 1].spanID, "span \(i)") }
        XCTAssertEqual(s[2].attribute("l7trace.link"), .string("header"))
    }

    func testARefusedCallTakesItsDescendantsIntoItsOwnTrace() {
        servedOnTwoThreads(3)
        let outside = fromOutside(3, connection: 12)
        read(outside, tid: 30, at: 100)
        call(ordersToStock, tid: 30, at: 110)
        read(ordersToStock, tid: 40, at: 111)
        answered(ordersToStock, tid: 40, readAt: 111, respond: 120)  // stock's span waits for the call's verdict
        XCTAssertNil(span(4, .server))
        callEnded(ordersToStock, tid: 30, wroteAt: 110, end: 130)
        answered(outside, tid: 30, readAt: 100, respond: 140, responseTid: 31)  // hop: refused
        advance(to: 200)
        let call = span(3, .client), stock = span(4, .server)
        assertRoot(call, notIn: span(3, .server))
        XCTAssertEqual(stock?.traceID, call?.traceID)
        XCTAssertEqual(stock?.parentSpanID, call?.spanID)
    }

    // MARK: - Bounds

    func testARequestDroppedWithItsConnectionNoLongerCountsAsOpen() {
        let dropped = fromOutside(2, connection: 11), next = fromOutside(2, connection: 12, port: 50_001)
        read(dropped, tid: 20, at: 100)  // its exchange never reaches the linker
        linker.serverConnectionClosed(tgid: 2, connectionID: 11)
        read(next, tid: 20, at: 200)
        call(nginxToOrders, tid: 20, at: 210)
        callEnded(nginxToOrders, tid: 20, wroteAt: 210, end: 250)
        answered(next, tid: 20, readAt: 200, respond: 260)
        assertChild(span(2, .client), of: span(2, .server), by: "event_loop")
    }

    func testOpenRequestsPerProcessAreBounded() {
        var limits = LinkLimits()
        limits.maxOpenRequestsPerProcess = 3
        linker = Linker(limits: limits, ids: SequentialIDGenerator(firstTrace: 100, firstSpan: 100))
        for n in 0..<5 { read(fromOutside(2, connection: 100 + UInt64(n)), tid: 20, at: 100 + UInt64(n)) }
        XCTAssertEqual(linker.counters.openRequestsOverflow, 2)
    }

    func testPendingOverflowReleasesTheOldestAsItsFallback() {
        var limits = LinkLimits()
        limits.maxHeldSpans = 1
        linker = Linker(limits: limits, ids: SequentialIDGenerator(firstTrace: 100, firstSpan: 100))
        for n in 0..<2 {
            // Two event-loop processes, each calling while serving one request.
            let pid = UInt32(20 + n)
            let outside = fromOutside(pid, connection: 11 + UInt64(n), port: 50_000 + UInt16(n))
            var out = nginxToOrders
            out.client = pid
            out.clientConnection = 30 + UInt64(n)
            out.clientAddress = Self.address(41_000 + UInt16(n))
            read(outside, tid: 20, at: 1000)
            call(out, tid: 20, at: 1010)
            callEnded(out, tid: 20, wroteAt: 1010, end: 1050)
        }
        XCTAssertEqual(linker.counters.pendingOverflow, 1)
        XCTAssertNil(span(20, .client)?.parentSpanID, "released before its check: unlinked")
        XCTAssertNil(span(20, .client)?.attribute("l7trace.link"))
        XCTAssertEqual(linker.pendingSpans, 1)
    }
}
