import L7Events
import XCTest
@testable import L7Protocols

/// Connections: roles, protocol detection, TLS, lifetimes and bounds.
final class ConnectionTrackingTests: XCTestCase {
    private let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    func testServerSpanTimesComeFromTheRightCalls() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let firstRead = h.call(key, .ingress, "POST /t HTTP/1.1\r\nContent-Length: 4\r\n\r\nab".bytes)
        let lastRead = h.call(key, .ingress, "cd".bytes)
        let firstWrite = h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n".bytes)
        let lastWrite = h.call(key, .egress, "done".bytes)
        let e = h.exchanges.first
        // The harness's calls are made by thread 4242: the first call's thread travels with the times.
        XCTAssertEqual(e?.requestTiming, MessageTiming(firstEnterNs: firstRead.enter, firstExitNs: firstRead.exit,
                                                       lastEnterNs: lastRead.enter, lastExitNs: lastRead.exit, firstTid: 4242))
        XCTAssertEqual(e?.responseTiming, MessageTiming(firstEnterNs: firstWrite.enter, firstExitNs: firstWrite.exit,
                                                        lastEnterNs: lastWrite.enter, lastExitNs: lastWrite.exit, firstTid: 4242))
        XCTAssertEqual(e?.connection.local, SocketAddress(ipv4: 127, 0, 0, 1, port: 18080))
        XCTAssertEqual(e?.connection.pid, 4242)
    }

    func testBinaryStreamOnANewConnectionIsIgnoredOnce() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client, fd: 12)
        h.call(key, .egress, [0x00, 0x00, 0x00, 0x2A, 0x01, 0x02, 0x47, 0x45, 0x54], fd: 12)
        h.call(key, .egress, "GET / HTTP/1.1\r\n\r\n", fd: 12)
        h.call(key, .ingress, ok, fd: 12)
        XCTAssertEqual(h.ignored.count, 1)
        XCTAssertEqual(h.ignored.first?.0, key)
        XCTAssertEqual(h.ignored.first?.1, 12)
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .notHTTP)
        XCTAssertTrue(h.exchanges.isEmpty)
        XCTAssertEqual(h.stats.connectionsIgnored, 1)
        XCTAssertEqual(h.stats.malformedMessages, 0)
    }

    func testTextProtocolThatIsNotHTTPIsIgnored() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .ingress, "220 mail.example.test ESMTP ready\r\n")
        XCTAssertEqual(h.ignored.count, 1)
        let redis = TrackerHarness.key(2)
        h.open(redis, role: .client)
        h.call(redis, .egress, "GET key\r\n")  // Redis inline command: no HTTP version
        XCTAssertEqual(h.ignored.count, 2)
    }

    func testBinaryStreamOfAnOldConnectionIsIgnoredAfterTheScanBudget() {
        let h = TrackerHarness(limits: TrackerLimits(detectionScanBytes: 4096))
        let key = TrackerHarness.key(1)
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<3 {
            h.call(key, .ingress, (0..<2000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        XCTAssertEqual(h.ignored.count, 1)
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .notHTTP)
        h.call(key, .ingress, "GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(h.ignored.count, 1, "onIgnore is called once")
        XCTAssertTrue(h.exchanges.isEmpty)
    }

    func testUnknownRoleIsInferredFromWhoSendsTheRequest() {
        let h = TrackerHarness()
        let server = TrackerHarness.key(1), client = TrackerHarness.key(2), reader = TrackerHarness.key(3)
        h.call(server, .ingress, "GET /s HTTP/1.1\r\n\r\n")
        h.call(server, .egress, ok)
        h.call(client, .egress, "GET /c HTTP/1.1\r\n\r\n")
        h.call(client, .ingress, ok)
        // The first bytes seen are a status line being read: a client.
        h.call(reader, .ingress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.call(reader, .egress, "GET /r HTTP/1.1\r\n\r\n")
        h.call(reader, .ingress, ok)
        XCTAssertEqual(h.exchanges.map(\.connection.role), [.server, .client, .client])
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/s", "/c", "/r"])
        XCTAssertEqual(h.tracker.connectionInfo(of: reader)?.role, .client)
    }

    func testListeningPortsDecideTheRoleOfAnOldConnection() {
        let h = TrackerHarness()
        h.tracker.listeningPorts = [18080]
        let key = TrackerHarness.key(1)
        h.open(key, role: .unknown, local: SocketAddress(ipv4: 127, 0, 0, 1, port: 18080),
               remote: SocketAddress(ipv4: 127, 0, 0, 1, port: 40000))
        XCTAssertEqual(h.tracker.connectionInfo(of: key)?.role, .server)
        let other = TrackerHarness.key(2)
        h.open(other, role: .unknown, local: SocketAddress(ipv4: 127, 0, 0, 1, port: 40000),
               remote: SocketAddress(ipv4: 127, 0, 0, 1, port: 18080))
        XCTAssertEqual(h.tracker.connectionInfo(of: other)?.role, .client)
    }

    func testAssignedRoleIsUsed() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.call(key, .ingress, "part of something\r\n")
        h.tracker.assignRole(.server, for: key, local: SocketAddress(ipv4: 10, 0, 0, 1, port: 80))
        h.call(key, .ingress, "GET / HTTP/1.1\r\n\r\n")
        h.call(key, .egress, ok)
        XCTAssertEqual(h.exchanges.first?.connection.role, .server)
        XCTAssertEqual(h.exchanges.first?.connection.local?.port, 80)
    }

    func testCiphertextIsIgnoredOnceSSLDataIsSeen() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        // TLS handshake over the socket: never parsed, never an error, never ignored.
        h.call(key, .egress, [0x16, 0x03, 0x01, 0x00, 0x40] + [UInt8](repeating: 0x99, count: 64))
        h.call(key, .ingress, [0x16, 0x03, 0x03, 0x00, 0x10] + [UInt8](repeating: 0x42, count: 16))
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .awaitingTLSPlaintext)
        XCTAssertTrue(h.ignored.isEmpty)
        // Plaintext from SSL_write / SSL_read, then the matching ciphertext.
        h.call(key, .egress, "GET /secure HTTP/1.1\r\nHost: h\r\n\r\n", source: .ssl)
        h.call(key, .egress, [0x17, 0x03, 0x03, 0x00, 0x30] + [UInt8](repeating: 0x11, count: 48))
        h.call(key, .ingress, [0x17, 0x03, 0x03, 0x00, 0x30] + "GET /fake HTTP/1.1\r\n\r\n".bytes)
        h.call(key, .ingress, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", source: .ssl)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/secure", 200, responseBody: 2)])
        XCTAssertEqual(h.exchanges.first?.connection.isTLS, true)
        XCTAssertEqual(h.ciphertextIgnored, [key])
        XCTAssertTrue(h.ignored.isEmpty)
        XCTAssertEqual(h.stats.malformedMessages + h.stats.orphanResponses + h.stats.droppedExchanges, 0)
        XCTAssertGreaterThan(h.stats.ciphertextBytesIgnored, 0)
        XCTAssertTrue(h.unreadableTLS.isEmpty)
    }

    func testAHandshakeFollowedByApplicationDataNoProbeReadIsReportedOnceAfterTheGrace() {
        // Node.js / asyncio (memory BIOs), Go, GnuTLS: every record crosses the socket.
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server, local: SocketAddress(ipv4: 127, 0, 0, 1, port: 8443))
        h.call(key, .ingress, TLSWire.clientHello)
        h.call(key, .egress, TLSWire.serverHello(tls13: true) + TLSWire.changeCipherSpec + TLSWire.encrypted(1500))
        h.call(key, .ingress, TLSWire.changeCipherSpec + TLSWire.encrypted(53))
        h.call(key, .egress, TLSWire.encrypted(250))
        h.call(key, .ingress, TLSWire.encrypted(90))
        h.call(key, .egress, TLSWire.encrypted(120))
        h.judgeTLS(afterNs: 1_000_000)
        XCTAssertTrue(h.unreadableTLS.isEmpty, "plaintext may still come")
        h.judgeTLS(afterNs: h.tracker.unreadableTLSGraceNs)
        XCTAssertEqual(h.unreadableTLS.map(\.local?.port), [8443])
        XCTAssertEqual(h.unreadableTLS.first?.role, .server)
        XCTAssertEqual(h.ignored.map(\.0), [key], "its bytes need not be sent any more")
        h.call(key, .ingress, TLSWire.encrypted(90))
        h.judgeTLS(afterNs: 10 * h.tracker.unreadableTLSGraceNs)
        h.close(key)
        XCTAssertEqual(h.unreadableTLS.count, 1)
        XCTAssertEqual(h.stats.tlsConnectionsUnreadable, 1)
        XCTAssertEqual(h.stats.malformedMessages + h.stats.orphanResponses, 0)
    }

    func testAShortUnreadableConnectionIsJudgedWhenItCloses() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client, remote: SocketAddress(ipv4: 127, 0, 0, 1, port: 443))
        h.call(key, .egress, TLSWire.clientHello)
        h.call(key, .ingress, TLSWire.serverHello(tls13: false))
        h.call(key, .egress, TLSWire.encrypted(100))
        h.close(key)
        XCTAssertEqual(h.unreadableTLS.map(\.remote?.port), [443])
        XCTAssertTrue(h.ignored.isEmpty, "closed: nothing to stop")
        XCTAssertEqual(h.stats.tlsConnectionsUnreadable, 1)
    }

    func testApplicationDataOnlyWithTheHandshakesEndIsJudgedWhenTheConnectionEndsWithoutPlaintext() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server, local: SocketAddress(ipv4: 127, 0, 0, 1, port: 8443))
        h.tls13ServerHandshake(key)
        h.call(key, .egress, TLSWire.encrypted(300)) // the answer, ciphertext only
        h.judgeTLS(afterNs: 10 * h.tracker.unreadableTLSGraceNs)
        XCTAssertTrue(h.unreadableTLS.isEmpty, "not yet: a traced server's plaintext may still come")
        h.close(key)
        XCTAssertEqual(h.unreadableTLS.map(\.local?.port), [8443])
        XCTAssertEqual(h.stats.tlsConnectionsUnreadable, 1)
    }

    func testARequestReadWithTheHandshakesEndByATracedServerIsNotUnreadable() {
        // nginx: the client's Finished and first request come in one read,
        // inside SSL_do_handshake (no probe); SSL_read then serves the request
        // from OpenSSL's buffer, and the answer's SSL_write gives plaintext.
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        h.tls13ServerHandshake(key)
        h.call(key, .egress, TLSWire.encrypted(1066) + TLSWire.encrypted(1066)) // session tickets
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", source: .ssl)
        h.judgeTLS(afterNs: 10 * h.tracker.unreadableTLSGraceNs)
        h.close(key)
        XCTAssertTrue(h.unreadableTLS.isEmpty)
        XCTAssertEqual(h.stats.tlsConnectionsUnreadable, 0)
    }

    func testAnOpenSSLClientsHandshakeThenItsPlaintextIsNeverReported() {
        // curl, requests: the handshake crosses the socket, the application data only the probes.
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client, remote: SocketAddress(ipv4: 127, 0, 0, 1, port: 443))
        h.call(key, .egress, TLSWire.clientHello)
        h.call(key, .ingress, TLSWire.serverHello(tls13: true) + TLSWire.changeCipherSpec)
        h.call(key, .ingress, TLSWire.encrypted(3000))
        h.call(key, .egress, TLSWire.changeCipherSpec + TLSWire.encrypted(53))
        h.call(key, .egress, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", source: .ssl)
        h.call(key, .ingress, ok, source: .ssl)
        h.call(key, .egress, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n", source: .ssl)
        h.call(key, .ingress, ok, source: .ssl)
        XCTAssertEqual(h.exchanges.summaries.map(\.target), ["/a", "/b"])
        XCTAssertTrue(h.unreadableTLS.isEmpty)
        XCTAssertEqual(h.stats.tlsConnectionsUnreadable, 0)
    }

    func testPlaintextStillGetsParsedAfterItsCiphertextWasJudgedNotHTTP() {
        let h = TrackerHarness(limits: TrackerLimits(detectionScanBytes: 1024))
        let key = TrackerHarness.key(1)
        // An old connection: ciphertext not aligned on a record, so not recognised as TLS.
        h.call(key, .ingress, [UInt8](repeating: 0xAB, count: 2000))
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .notHTTP)
        h.call(key, .ingress, "GET /late HTTP/1.1\r\n\r\n", source: .ssl)
        h.call(key, .egress, ok, source: .ssl)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/late", 200)])
        XCTAssertEqual(h.exchanges.first?.connection.isTLS, true)
    }

    func testPlaintextOfAConnectionWhoseFirstBytesWereRejectedIsParsed() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .egress, [0x80, 0x01, 0x02, 0x03])  // not a TLS record we know, not HTTP
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .notHTTP)
        h.call(key, .egress, "GET /tls HTTP/1.1\r\n\r\n", source: .ssl)
        h.call(key, .ingress, ok, source: .ssl)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/tls", 200)])
    }

    func testHTTP2PrefaceMarksTheConnectionWithoutErrors() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".bytes
        h.call(key, .egress, Array(preface[0..<5]))
        h.call(key, .egress, Array(preface[5...]) + [0, 0, 0, 4, 0, 0, 0, 0, 0])
        h.call(key, .ingress, [0, 0, 0, 4, 0, 0, 0, 0, 0])
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .http2)
        XCTAssertTrue(h.exchanges.isEmpty)
        XCTAssertTrue(h.ignored.isEmpty)
        XCTAssertEqual(h.stats.http2Connections, 1)
        XCTAssertEqual(h.stats.malformedMessages, 0)
    }

    func testHTTP2ServerSpeakingFirstIsNotJudgedBeforeTheClientPreface() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        h.call(key, .egress, [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100])  // SETTINGS, max streams 100
        h.call(key, .ingress, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".bytes + [0, 0, 0, 4, 0, 0, 0, 0, 0])
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .http2)
        XCTAssertTrue(h.ignored.isEmpty)
    }

    func testAMethodSharingThePrefacesFirstLetterIsStillHTTP1() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .egress, "P")
        h.call(key, .egress, "UT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        h.call(key, .ingress, ok)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("PUT", "/x", 200)])
        XCTAssertEqual(h.exchanges.first?.requestTiming.firstEnterNs, 1_200)
    }

    func testReusedFdWithANewConnectionIDDoesNotMixState() {
        let h = TrackerHarness()
        let first = TrackerHarness.key(10), second = TrackerHarness.key(11)
        h.open(first, role: .server, fd: 5)
        h.call(first, .ingress, "POST /one HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234")
        // fd 5 closed without the tracer seeing it, then reused for a new connection.
        h.open(second, role: .server, fd: 5)
        h.call(second, .ingress, "GET /two HTTP/1.1\r\n\r\n")
        h.call(second, .egress, ok)
        h.close(first)
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/two", 200),
            ExchangeSummary("POST", "/one", nil, requestBody: 5, failure: .connectionClosed),
        ])
    }

    func testRequestWithoutResponseAtClose() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .egress, "GET /slow HTTP/1.1\r\n\r\n")
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/slow", nil, failure: .connectionClosed)])
        XCTAssertNil(h.exchanges.first?.responseTiming)
    }

    func testResponseCutOffMidBodyIsIncomplete() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .egress, "GET /big HTTP/1.1\r\n\r\n")
        h.call(key, .ingress, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries,
                       [ExchangeSummary("GET", "/big", 200, responseBody: 10, failure: .responseIncomplete)])
    }

    func testProcessExitAndFlushCloseOutConnections() {
        let h = TrackerHarness()
        let a = TrackerHarness.key(1, pid: 100), b = TrackerHarness.key(2, pid: 200)
        h.open(a, role: .client)
        h.open(b, role: .client)
        h.call(a, .egress, "GET /a HTTP/1.1\r\n\r\n")
        h.call(b, .egress, "GET /b HTTP/1.1\r\n\r\n")
        h.exit(pid: 100)
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/a"])
        h.flush()
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/a", "/b"])
        XCTAssertEqual(h.tracker.trackedConnections, 0)
    }

    func testLeastRecentlyUsedConnectionIsEvictedAndCounted() {
        let h = TrackerHarness(limits: TrackerLimits(maxConnections: 2))
        let a = TrackerHarness.key(1), b = TrackerHarness.key(2), c = TrackerHarness.key(3)
        h.open(a, role: .client)
        h.open(b, role: .client)
        h.call(a, .egress, "GET /a HTTP/1.1\r\n\r\n")  // a is now more recent than b
        h.call(b, .egress, "GET /b HTTP/1.1\r\n\r\n")
        h.call(a, .ingress, ok)
        h.open(c, role: .client)  // evicts b, with its request pending
        XCTAssertEqual(h.tracker.trackedConnections, 2)
        XCTAssertNil(h.tracker.detectedProtocol(of: b))
        XCTAssertNotNil(h.tracker.detectedProtocol(of: a))
        XCTAssertEqual(h.stats.connectionsEvicted, 1)
        XCTAssertEqual(h.stats.droppedExchanges, 1)
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/a"])
    }

    /// The newest requests are dropped (counted), not the oldest: responses
    /// then still pair with the requests they answer.
    func testPipelinedRequestsBeyondTheLimitAreCountedAndResponsesStayPaired() {
        let h = TrackerHarness(limits: TrackerLimits(maxPendingRequests: 2))
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .egress, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\nGET /4 HTTP/1.1\r\n\r\n")
        h.call(key, .ingress, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 201 OK\r\nContent-Length: 1\r\n\r\n2"
               + "HTTP/1.1 202 OK\r\nContent-Length: 1\r\n\r\n3HTTP/1.1 203 OK\r\nContent-Length: 1\r\n\r\n4")
        h.call(key, .egress, "GET /5 HTTP/1.1\r\n\r\n")
        h.call(key, .ingress, "HTTP/1.1 205 OK\r\nContent-Length: 1\r\n\r\n5")
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/1", 200, responseBody: 1),
                                               ExchangeSummary("GET", "/2", 201, responseBody: 1),
                                               ExchangeSummary("GET", "/5", 205, responseBody: 1)])
        XCTAssertEqual(h.stats.pipelineOverflows, 2)
        XCTAssertEqual(h.stats.droppedExchanges, 0, "each lost request is counted once, under its reason")
        XCTAssertEqual(h.stats.orphanResponses, 0)
    }

    /// A response cut by a hole that answers a request already counted as an
    /// overflow is not counted again (the e2e test of 300 pipelined requests
    /// once found 601 of 600 so).
    func testAHoleInTheResponseOfAnOverflowedRequestIsNotCountedTwice() {
        let h = TrackerHarness(limits: TrackerLimits(maxPendingRequests: 2))
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .egress, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n")
        h.call(key, .ingress, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 201 OK\r\nContent-Length: 1\r\n\r\n2"
               + "HTTP/1.1 202 OK\r\nConte", hole: 100)
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/1", 200, responseBody: 1),
                                               ExchangeSummary("GET", "/2", 201, responseBody: 1)])
        XCTAssertEqual(h.stats.pipelineOverflows, 1)
        XCTAssertEqual(h.stats.holesInHeaders + h.stats.droppedExchanges + h.stats.orphanResponses, 0,
                       "the third request was counted once, as an overflow")
    }
}

final class ConnectionTableShrinkTests: XCTestCase {
    func testATableEmptiedAfterABurstGivesItsSlotsBackAndKeepsItsOrder() {
        let h = TrackerHarness(limits: TrackerLimits(maxConnections: 5_000))
        for id in 1...4_000 { h.open(TrackerHarness.key(UInt64(id)), role: .client) }
        for id in 1...3_990 { h.close(TrackerHarness.key(UInt64(id))) }
        XCTAssertEqual(h.tracker.connectionSlots, 4_000, "nothing is given back per event")
        XCTAssertTrue(h.tracker.holdsSpareCapacity)

        h.tracker.releaseSpareCapacity()
        XCTAssertEqual(h.tracker.connectionSlots, 10)
        XCTAssertFalse(h.tracker.holdsSpareCapacity)
        XCTAssertEqual(h.tracker.trackedConnections, 10)
        let survivor = TrackerHarness.key(3_995)
        XCTAssertNotNil(h.tracker.connectionInfo(of: survivor))
        h.call(survivor, .egress, "GET /after HTTP/1.1\r\n\r\n")
        h.call(survivor, .ingress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/after"])
    }

    func testTheLeastRecentlyUsedOrderSurvivesAShrink() {
        let h = TrackerHarness(limits: TrackerLimits(maxConnections: 2_000))
        for id in 1...2_000 { h.open(TrackerHarness.key(UInt64(id)), role: .client) }
        for id in 3...2_000 { h.close(TrackerHarness.key(UInt64(id))) }
        h.call(TrackerHarness.key(1), .egress, "GET /1 HTTP/1.1\r\n\r\n") // 1 is now more recent than 2
        h.tracker.releaseSpareCapacity()
        for id in 10...2_007 { h.open(TrackerHarness.key(UInt64(id)), role: .client) } // fills to the limit
        h.open(TrackerHarness.key(5_000), role: .client) // evicts the least recently used: 2
        XCTAssertNil(h.tracker.connectionInfo(of: TrackerHarness.key(2)))
        XCTAssertNotNil(h.tracker.connectionInfo(of: TrackerHarness.key(1)))
    }
}
