import L7Events
import L7Protocols
@testable import L7Spans
import XCTest

final class SpanBuilderTests: XCTestCase {
    func testServerSpanNameKindAndAttributes() {
        let span = Fixtures.span(Fixtures.exchange(
            method: "POST", target: "/users/42/orders?limit=10",
            headers: [("Host", "api.example.com:8443"), ("User-Agent", "curl/8.0")],
            status: 201, requestBodySize: 17, responseBodySize: 120))
        XCTAssertEqual(span.name, "POST /users/*/orders")
        XCTAssertEqual(span.kind, .server)
        XCTAssertEqual(span.statusCode, .unset)
        XCTAssertEqual(span.pid, 4242)
        XCTAssertEqual(span.string("http.request.method"), "POST")
        XCTAssertNil(span.attribute("http.request.method_original"))
        XCTAssertEqual(span.string("url.path"), "/users/42/orders")
        XCTAssertEqual(span.string("url.query"), "limit=10")
        XCTAssertEqual(span.string("url.scheme"), "http")
        XCTAssertEqual(span.string("http.route"), "/users/*/orders")
        XCTAssertEqual(span.int("http.response.status_code"), 201)
        XCTAssertEqual(span.string("server.address"), "api.example.com")
        XCTAssertEqual(span.int("server.port"), 8443)
        XCTAssertEqual(span.string("client.address"), "10.0.0.2")
        XCTAssertEqual(span.string("network.peer.address"), "10.0.0.2")
        XCTAssertEqual(span.int("network.peer.port"), 40000)
        XCTAssertEqual(span.string("network.protocol.version"), "1.1")
        XCTAssertEqual(span.string("user_agent.original"), "curl/8.0")
        XCTAssertEqual(span.int("http.request.body.size"), 17)
        XCTAssertEqual(span.int("http.response.body.size"), 120)
        XCTAssertNil(span.attribute("error.type"))
        XCTAssertNil(span.attribute("url.full"), "url.full is for client spans")
        XCTAssertEqual(Set(span.attributes.map(\.key)).count, span.attributes.count, "attribute keys are unique")
    }

    func testBodySizesTheCaptureCouldNotTellAreLeftOutAndListedAsUndecoded() {
        var exchange = Fixtures.exchange(method: "POST", status: 200, requestBodySize: 3, responseBodySize: 7)
        exchange.undecoded = [.requestBodySize, .responseBodySize]
        let span = Fixtures.span(exchange)
        XCTAssertNil(span.attribute("http.request.body.size"))
        XCTAssertNil(span.attribute("http.response.body.size"))
        XCTAssertEqual(span.int("http.response.status_code"), 200)
        XCTAssertEqual(span.statusCode, .unset, "a body of unknown size is no error")
        XCTAssertEqual(span.attribute("l7trace.undecoded"), .stringArray(["request_body_size", "response_body_size"]))
    }

    func testClientSpanHasFullURLAndServerFromHost() {
        let span = Fixtures.span(Fixtures.exchange(
            role: .client, target: "/search?q=swift&sig=abc",
            headers: [("Host", "shop.example.com:9000")], isTLS: true))
        XCTAssertEqual(span.kind, .client)
        XCTAssertEqual(span.name, "GET /search")
        XCTAssertEqual(span.string("url.scheme"), "https")
        XCTAssertEqual(span.string("server.address"), "shop.example.com")
        XCTAssertEqual(span.int("server.port"), 9000)
        XCTAssertEqual(span.string("url.full"), "https://shop.example.com:9000/search?q=swift&sig=REDACTED")
        XCTAssertEqual(span.string("network.peer.address"), "10.0.0.1")
        XCTAssertEqual(span.int("network.peer.port"), 8080)
        XCTAssertNil(span.attribute("client.address"))
    }

    func testClientWithoutHostFallsBackToSocketAndOmitsDefaultPort() {
        let noHost = Fixtures.span(Fixtures.exchange(role: .client, target: "/a", headers: []))
        XCTAssertEqual(noHost.string("server.address"), "10.0.0.1")
        XCTAssertEqual(noHost.int("server.port"), 8080)
        XCTAssertEqual(noHost.string("url.full"), "http://10.0.0.1:8080/a")

        let hostNoPort = Fixtures.span(Fixtures.exchange(role: .client, target: "/a", headers: [("host", "example.org")]))
        XCTAssertEqual(hostNoPort.string("server.address"), "example.org")
        XCTAssertEqual(hostNoPort.int("server.port"), 8080, "the port the client connected to")

        let https = Fixtures.span(Fixtures.exchange(role: .client, target: "/", headers: [("Host", "example.org:443")], isTLS: true))
        XCTAssertEqual(https.string("url.full"), "https://example.org/")
    }

    func testServerWithoutHostUsesLocalSocket() {
        let span = Fixtures.span(Fixtures.exchange(target: "/", version: "1.0", headers: []))
        XCTAssertEqual(span.string("server.address"), "10.0.0.1")
        XCTAssertEqual(span.int("server.port"), 8080)
        XCTAssertEqual(span.string("network.protocol.version"), "1.0")
        XCTAssertEqual(span.name, "GET /")
    }

    func testServerHostWithoutPortUsesLocalPort() {
        let span = Fixtures.span(Fixtures.exchange(headers: [("Host", "example.com")]))
        XCTAssertEqual(span.string("server.address"), "example.com")
        XCTAssertEqual(span.int("server.port"), 8080)
    }

    func testIPv6HostHeader() {
        let span = Fixtures.span(Fixtures.exchange(role: .client, target: "/x", headers: [("Host", "[::1]:9090")]))
        XCTAssertEqual(span.string("server.address"), "::1")
        XCTAssertEqual(span.int("server.port"), 9090)
        XCTAssertEqual(span.string("url.full"), "http://[::1]:9090/x")
    }

    func testAbsoluteFormTargetThroughProxy() {
        let span = Fixtures.span(Fixtures.exchange(
            role: .client, target: "http://user:secret@backend.internal:8081/v1/items/123?X-Amz-Signature=abc&x=1",
            headers: [("Host", "backend.internal:8081")]))
        XCTAssertEqual(span.string("url.path"), "/v1/items/123")
        XCTAssertEqual(span.string("url.query"), "X-Amz-Signature=REDACTED&x=1")
        XCTAssertEqual(span.string("server.address"), "backend.internal")
        XCTAssertEqual(span.int("server.port"), 8081)
        XCTAssertEqual(span.string("url.full"), "http://backend.internal:8081/v1/items/123?X-Amz-Signature=REDACTED&x=1")
        XCTAssertEqual(span.name, "GET /v1/items/*")

        let noPath = Fixtures.span(Fixtures.exchange(role: .client, target: "https://example.com", headers: []))
        XCTAssertEqual(noPath.string("url.path"), "/")
        XCTAssertEqual(noPath.string("url.scheme"), "https")
        XCTAssertEqual(noPath.int("server.port"), 443)
        XCTAssertEqual(noPath.string("url.full"), "https://example.com/")

        let serverSide = Fixtures.span(Fixtures.exchange(target: "http://proxy.example:3128/p?q=1", headers: [("Host", "other")]))
        XCTAssertEqual(serverSide.string("url.path"), "/p")
        XCTAssertEqual(serverSide.string("url.query"), "q=1")
        XCTAssertEqual(serverSide.string("server.address"), "proxy.example")
        XCTAssertEqual(serverSide.int("server.port"), 3128)
    }

    func testForwardedHeadersOnServer() {
        let xff = Fixtures.span(Fixtures.exchange(headers: [
            ("Host", "internal:8080"), ("X-Forwarded-For", "203.0.113.7, 10.1.1.1"),
            ("X-Forwarded-Host", "www.example.com"), ("X-Forwarded-Proto", "https"),
        ]))
        XCTAssertEqual(xff.string("client.address"), "203.0.113.7")
        XCTAssertEqual(xff.string("network.peer.address"), "10.0.0.2", "the peer stays the socket's")
        XCTAssertEqual(xff.string("server.address"), "www.example.com")
        XCTAssertEqual(xff.int("server.port"), 443)

        let forwarded = Fixtures.span(Fixtures.exchange(headers: [
            ("Host", "internal"), ("Forwarded", "for=\"[2001:db8::17]:4711\";proto=http;host=shop.example:8000, for=198.51.100.1"),
            ("X-Forwarded-For", "192.0.2.99"),
        ]))
        XCTAssertEqual(forwarded.string("client.address"), "2001:db8::17")
        XCTAssertEqual(forwarded.string("server.address"), "shop.example")
        XCTAssertEqual(forwarded.int("server.port"), 8000)

        let unknown = Fixtures.span(Fixtures.exchange(headers: [("Forwarded", "for=unknown")]))
        XCTAssertEqual(unknown.string("client.address"), "10.0.0.2")
    }

    func testUnknownMethodIsOther() {
        let span = Fixtures.span(Fixtures.exchange(method: "PURGE", target: "/cache/abc"))
        XCTAssertEqual(span.string("http.request.method"), "_OTHER")
        XCTAssertEqual(span.string("http.request.method_original"), "PURGE")
        XCTAssertEqual(span.name, "HTTP /cache/abc")

        let lower = Fixtures.span(Fixtures.exchange(method: "get"))
        XCTAssertEqual(lower.string("http.request.method"), "_OTHER", "methods are case-sensitive")
    }

    func testKnownMethodsOverride() {
        let methods = SpanOptions.knownMethods(environmentValue: "GET, PURGE")
        XCTAssertEqual(methods, ["GET", "PURGE"])
        let options = SpanOptions(knownMethods: methods)
        XCTAssertEqual(Fixtures.span(Fixtures.exchange(method: "PURGE", target: "/x"), options: options).name, "PURGE /x")
        XCTAssertEqual(Fixtures.span(Fixtures.exchange(method: "POST", target: "/x"), options: options).name, "HTTP /x")
        XCTAssertEqual(SpanOptions.knownMethods(environmentValue: nil), SpanOptions.defaultKnownMethods)
        XCTAssertEqual(SpanOptions.knownMethods(environmentValue: " , "), SpanOptions.defaultKnownMethods)
    }

    func testNoPathTargets() {
        let options = Fixtures.span(Fixtures.exchange(method: "OPTIONS", target: "*"))
        XCTAssertEqual(options.name, "OPTIONS")
        XCTAssertNil(options.attribute("http.route"))

        let connect = Fixtures.span(Fixtures.exchange(role: .client, method: "CONNECT", target: "example.com:443", headers: []))
        XCTAssertEqual(connect.name, "CONNECT")
        XCTAssertEqual(connect.string("server.address"), "example.com")
        XCTAssertEqual(connect.int("server.port"), 443)
    }

    func testStatusRules() {
        let cases: [(ConnectionRole, Int, StatusCode, String?)] = [
            (.server, 101, .unset, nil), (.server, 200, .unset, nil), (.server, 304, .unset, nil),
            (.server, 404, .unset, nil), (.client, 404, .error, "404"),
            (.server, 500, .error, "500"), (.client, 503, .error, "503"),
            (.client, 302, .unset, nil), (.server, 600, .error, "600"), (.client, 99, .error, "99"),
        ]
        for (role, status, expected, errorType) in cases {
            let span = Fixtures.span(Fixtures.exchange(role: role, status: status))
            XCTAssertEqual(span.statusCode, expected, "\(role) \(status)")
            XCTAssertEqual(span.string("error.type"), errorType, "\(role) \(status)")
            XCTAssertEqual(span.statusMessage, "", "no description that repeats the code")
        }
    }

    func testNoResponseIsError() {
        for role in [ConnectionRole.server, .client] {
            let span = Fixtures.span(Fixtures.exchange(role: role, status: nil, failure: .connectionClosed))
            XCTAssertEqual(span.statusCode, .error)
            XCTAssertEqual(span.string("error.type"), "connection_closed")
            XCTAssertNil(span.attribute("http.response.status_code"))
            XCTAssertNil(span.attribute("http.response.body.size"))
        }
        let unexplained = Fixtures.span(Fixtures.exchange(status: nil))
        XCTAssertEqual(unexplained.string("error.type"), "_OTHER")
    }

    func testIncompleteResponseBodyIsError() {
        let cut = Fixtures.span(Fixtures.exchange(status: 200, failure: .responseIncomplete))
        XCTAssertEqual(cut.statusCode, .error)
        XCTAssertEqual(cut.string("error.type"), "response_incomplete")
        let cut500 = Fixtures.span(Fixtures.exchange(status: 500, failure: .responseIncomplete))
        XCTAssertEqual(cut500.string("error.type"), "500")
    }

    func testServerTiming() {
        let span = Fixtures.span(Fixtures.exchange(role: .server))
        let offset: UInt64 = 1_700_000_000_000_000_000
        XCTAssertEqual(span.startUnixNano, offset + 1_100, "exit of the read bringing the first request byte")
        // On loopback the client's read can return before the server's write
        // does: ending at the write's entry keeps the server span inside the
        // client span it is linked to (issue 15's chain, stock inside orders).
        XCTAssertEqual(span.endUnixNano, offset + 5_200, "entry of the write sending the last response byte")
    }

    func testClientTiming() {
        let span = Fixtures.span(Fixtures.exchange(role: .client))
        let offset: UInt64 = 1_700_000_000_000_000_000
        XCTAssertEqual(span.startUnixNano, offset + 1_000, "entry of the first request write")
        XCTAssertEqual(span.endUnixNano, offset + 5_300, "exit of the read completing the response")
    }

    func testNoResponseTiming() {
        let offset: UInt64 = 1_700_000_000_000_000_000
        let exchange = Fixtures.exchange(status: nil, failure: .connectionClosed)
        let builder = Fixtures.builder()
        XCTAssertEqual(builder.span(for: exchange).endUnixNano, offset + 1_300, "the request's last byte")
        XCTAssertEqual(builder.span(for: exchange, closedAtNs: 9_000).endUnixNano, offset + 9_000, "the close")
        // A close time before the start never makes end < start.
        let early = builder.span(for: exchange, closedAtNs: 10)
        XCTAssertGreaterThanOrEqual(early.endUnixNano, early.startUnixNano)
        // A complete response ignores the close time (a server span: the last write's entry).
        XCTAssertEqual(builder.span(for: Fixtures.exchange(), closedAtNs: 9_000).endUnixNano, offset + 5_200)
    }

    func testEndNeverBeforeStart() {
        var e = Fixtures.exchange()
        e.responseTiming = MessageTiming(firstEnterNs: 0, firstExitNs: 0, lastEnterNs: 0, lastExitNs: 500)
        let span = Fixtures.span(e)
        XCTAssertEqual(span.endUnixNano, span.startUnixNano)
    }

    func testUnknownRoleIsServer() {
        let span = Fixtures.span(Fixtures.exchange(role: .unknown))
        XCTAssertEqual(span.kind, .server)
    }

    func testRandomIDsWithoutTraceparent() {
        let builder = SpanBuilder(clock: Fixtures.clock)
        let a = builder.span(for: Fixtures.exchange()), b = builder.span(for: Fixtures.exchange())
        XCTAssertTrue(a.traceID.isValid && a.spanID.isValid)
        XCTAssertNotEqual(a.traceID, b.traceID)
        XCTAssertNotEqual(a.spanID, b.spanID)
        XCTAssertNil(a.parentSpanID)
        XCTAssertEqual(a.flags, 0x101)
        XCTAssertEqual(a.traceState, "")
    }

    func testClockConversion() {
        let clock = ClockConversion(realtimeNs: 1_000_000, monotonicNs: 400)
        XCTAssertEqual(clock.unixNanos(fromMonotonic: 500), 1_000_100)
        XCTAssertEqual(ClockConversion(offsetNs: -1_000).unixNanos(fromMonotonic: 10), 1, "never 0 or negative")
        let now = ClockConversion.current()
        XCTAssertGreaterThan(now.offsetNs, 1_500_000_000_000_000_000, "realtime (2020s) minus uptime")
    }

    func testSeededRandomGeneratorIsReproducible() {
        var a = RandomIDGenerator(seed: 7), b = RandomIDGenerator(seed: 7)
        XCTAssertEqual(a.nextTraceID(), b.nextTraceID())
        XCTAssertEqual(a.nextSpanID(), b.nextSpanID())
        var seq = SequentialIDGenerator()
        XCTAssertEqual(seq.nextTraceID().description, "00000000000000000000000000000001")
        XCTAssertEqual(seq.nextSpanID(), SpanID(1))
        XCTAssertEqual(seq.nextSpanID(), SpanID(2))
    }
}
