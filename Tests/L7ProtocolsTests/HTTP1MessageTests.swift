import L7Events
import XCTest
@testable import L7Protocols

/// Message framing rules (RFC 9112 §6), seen through the exchanges they produce.
final class HTTP1MessageTests: XCTestCase {
    private var h: TrackerHarness!
    private let key = TrackerHarness.key(1)

    override func setUp() {
        h = TrackerHarness()
        h.open(key, role: .server)
    }

    private func request(_ text: String) { h.call(key, .ingress, text) }
    private func response(_ text: String) { h.call(key, .egress, text) }

    func testTokenCharactersAreExactlyRFC9110s() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        for b in 0...255 {
            XCTAssertEqual(ASCII.isTokenChar(UInt8(b)), tchar.contains(UInt8(b)), "byte \(b)")
        }
    }

    func testPipelinedRequestsInOneCallPairWithResponsesInOrder() {
        request("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
        response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        response("HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nbad")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/a", 200, responseBody: 1),
            ExchangeSummary("GET", "/b", 404),
            ExchangeSummary("POST", "/c", 500, requestBody: 2, responseBody: 3),
        ])
    }

    func testChunkedBodyWithExtensionsAndTrailersCountsOnlyPayload() {
        request("POST /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
            + "5;name=value;other=\"q\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last\r\nDigest: x\r\nExpires: never\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("POST", "/up", 200, requestBody: 31, responseBody: 3)])
    }

    func testTransferEncodingOverridesContentLength() {
        request("POST /x HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        request("GET /next HTTP/1.1\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("POST", "/x", 200, requestBody: 2), ExchangeSummary("GET", "/next", 200),
        ])
    }

    func testResponseToHEADHasNoBodyDespiteContentLength() {
        request("HEAD /file HTTP/1.1\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
        request("GET /file HTTP/1.1\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfile")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("HEAD", "/file", 200), ExchangeSummary("GET", "/file", 200, responseBody: 4),
        ])
    }

    func test204And304HaveNoBody() {
        request("DELETE /r/1 HTTP/1.1\r\n\r\nGET /r/2 HTTP/1.1\r\nIf-None-Match: \"e\"\r\n\r\nGET /r/3 HTTP/1.1\r\n\r\n")
        // 304 keeps the Content-Length of the full representation; 204 must not have one but may.
        response("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")
        response("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"e\"\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("DELETE", "/r/1", 204), ExchangeSummary("GET", "/r/2", 304),
            ExchangeSummary("GET", "/r/3", 200, responseBody: 2),
        ])
    }

    func testInterim100ContinueIsSkippedAndTheFinalResponsePairs() {
        request("PUT /big HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n")
        response("HTTP/1.1 100 Continue\r\n\r\n")
        request("123456")
        response("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("PUT", "/big", 201, requestBody: 6)])
        XCTAssertEqual(h.exchanges.first?.response?.reason, "Created")
    }

    func testCloseDelimitedResponseEndsAtClose() {
        request("GET /stream HTTP/1.0\r\n\r\n")
        response("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
        response("part two")
        XCTAssertTrue(h.exchanges.isEmpty, "a close-delimited body is not over before the close")
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/stream", 200, responseBody: 18)])
        XCTAssertEqual(h.exchanges.first?.request.version, "1.0")
    }

    func testIdenticalContentLengthListIsAcceptedDifferingIsDropped() {
        request("POST /same HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc")
        response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        request("POST /differ HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabcd")
        response("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        request("GET /after HTTP/1.1\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("POST", "/same", 200, requestBody: 3), ExchangeSummary("GET", "/after", 200),
        ])
        XCTAssertEqual(h.stats.malformedMessages, 1)
        XCTAssertEqual(h.stats.droppedExchanges, 0, "the lost exchange is counted once, under its reason")
    }

    func testObsFoldIsJoinedIntoThePreviousValue() {
        request("GET / HTTP/1.1\r\nX-Long: first\r\n  second\r\nHost: h\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.first?.request.headers["x-long"], "first second")
        XCTAssertEqual(h.exchanges.first?.request.headers["host"], "h")
    }

    func testBareLineFeedsAreTolerated() {
        request("GET /lf HTTP/1.1\nHost: h\n\n")
        response("HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/lf", 200, responseBody: 2)])
    }

    func testUpgradeEndsHTTPParsingAndIgnoresTheConnection() {
        request("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{05}hello")
        request("\u{81}\u{85}abcdGET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/ws", 101)])
        XCTAssertEqual(h.ignored.map(\.0), [key])
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .tunnel)
        XCTAssertEqual(h.stats.tunnels, 1)
        XCTAssertEqual(h.stats.malformedMessages, 0)
    }

    func testSuccessfulCONNECTBecomesATunnel() {
        request("CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n")
        response("HTTP/1.1 200 Connection Established\r\n\r\n")
        request("\u{16}\u{03}\u{01}\u{00}\u{05}hello")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("CONNECT", "example.test:443", 200)])
        XCTAssertEqual(h.ignored.count, 1)
        XCTAssertEqual(h.stats.malformedMessages, 0)
    }

    func testRefusedCONNECTKeepsParsing() {
        request("CONNECT example.test:443 HTTP/1.1\r\n\r\n")
        response("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        request("GET /x HTTP/1.1\r\n\r\n")
        response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.map(\.response?.status), [403, 200])
        XCTAssertTrue(h.ignored.isEmpty)
    }

    func testHeaderNamesAreCaseInsensitiveAndKeepTheirCase() {
        request("GET / HTTP/1.1\r\ncontent-LENGTH: 1\r\nTraceParent: 00-abc\r\n\r\nx")
        response("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.first?.requestBodySize, 1)
        XCTAssertEqual(h.exchanges.first?.request.headers.fields.map(\.name), ["content-LENGTH", "TraceParent"])
        XCTAssertEqual(h.exchanges.first?.request.headers["traceparent"], "00-abc")
    }
}
