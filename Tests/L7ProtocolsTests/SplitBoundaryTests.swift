import L7Events
import XCTest
@testable import L7Protocols

/// The same bytes, cut into read/write calls anywhere, must give the same exchanges.
final class SplitBoundaryTests: XCTestCase {
    static let exchanges: [(request: String, response: String)] = [
        ("GET /items/42?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n",
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"),
        ("POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nX-Multi: a\r\nX-Multi: b\r\n\r\nabcde",
         "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: yes\r\n\r\n"),
        ("PUT /chunked HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
         "HTTP/1.1 204 No Content\r\nServer: t\r\n\r\n"),
        ("HEAD /big HTTP/1.1\r\nHost: example.test\r\n\r\n",
         "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
    ]

    let expected = [
        ExchangeSummary("GET", "/items/42?x=1", 200, responseBody: 11),
        ExchangeSummary("POST", "/upload", 201, requestBody: 5, responseBody: 9),
        ExchangeSummary("PUT", "/chunked", 204, requestBody: 3),
        ExchangeSummary("HEAD", "/big", 200),
    ]

    /// Runs the exchanges on a server connection: each request, then its
    /// response, every message cut into calls at the given offsets.
    private func runInterleaved(cuts: (Int) -> [Int]) -> TrackerHarness {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        for (request, response) in Self.exchanges {
            for piece in Self.cut(request.bytes, at: cuts(request.utf8.count)) { h.call(key, .ingress, piece) }
            for piece in Self.cut(response.bytes, at: cuts(response.utf8.count)) { h.call(key, .egress, piece) }
        }
        h.close(key)
        return h
    }

    /// Runs the exchanges pipelined on a client connection: all requests as
    /// one stream, then all responses as one stream, each cut at offsets.
    private func runPipelined(requestCuts: [Int], responseCuts: [Int]) -> TrackerHarness {
        let h = TrackerHarness()
        let key = TrackerHarness.key(2)
        h.open(key, role: .client)
        let requests = Self.exchanges.flatMap { $0.request.bytes }
        let responses = Self.exchanges.flatMap { $0.response.bytes }
        for piece in Self.cut(requests, at: requestCuts) { h.call(key, .egress, piece) }
        for piece in Self.cut(responses, at: responseCuts) { h.call(key, .ingress, piece) }
        h.close(key)
        return h
    }

    static func cut(_ bytes: [UInt8], at offsets: [Int]) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var start = 0
        for offset in offsets.sorted() where offset > start && offset < bytes.count {
            pieces.append(Array(bytes[start..<offset]))
            start = offset
        }
        pieces.append(Array(bytes[start...]))
        return pieces
    }

    func testWholeMessagesGiveTheExpectedExchanges() {
        let h = runInterleaved(cuts: { _ in [] })
        XCTAssertEqual(h.exchanges.summaries, expected)
        XCTAssertEqual(h.exchanges[1].request.headers.values("x-multi"), ["a", "b"])
        XCTAssertEqual(h.exchanges[0].request.headers["host"], "example.test")
        XCTAssertEqual(h.exchanges[0].response?.headers.isEmpty, true, "HTTP/1 response fields are read for framing, not kept")
        XCTAssertEqual(h.exchanges[0].request.version, "1.1")
        XCTAssertEqual(h.exchanges[1].response?.reason, "Created")
        XCTAssertEqual(h.exchanges.map(\.connection.role), Array(repeating: .server, count: 4))
        XCTAssertEqual(h.stats.exchanges, 4)
        XCTAssertEqual(h.stats.droppedExchanges, 0)
        XCTAssertEqual(h.stats.malformedMessages, 0)
    }

    func testEverySingleCutGivesTheSameExchanges() {
        let baseline = runInterleaved(cuts: { _ in [] }).exchanges
        let longest = Self.exchanges.map { max($0.request.utf8.count, $0.response.utf8.count) }.max()!
        for index in 1..<longest {
            let h = runInterleaved(cuts: { count in [index % count] })
            assertSameExchanges(h.exchanges, baseline, "cut at \(index)")
            XCTAssertEqual(h.stats.droppedExchanges + h.stats.malformedMessages + h.stats.orphanResponses, 0)
        }
    }

    func testEveryPairOfCutsGivesTheSameExchanges() {
        let baseline = runInterleaved(cuts: { _ in [] }).exchanges
        let request = Self.exchanges[1].request.utf8.count
        for a in stride(from: 1, to: request, by: 3) {
            for b in stride(from: a + 1, to: request, by: 5) {
                let h = runInterleaved(cuts: { count in [a % count, b % count] })
                assertSameExchanges(h.exchanges, baseline, "cuts at \(a), \(b)")
            }
        }
    }

    func testOneByteCallsGiveTheSameExchanges() {
        let baseline = runInterleaved(cuts: { _ in [] }).exchanges
        let h = runInterleaved(cuts: { count in Array(1..<count) })
        assertSameExchanges(h.exchanges, baseline, "one-byte calls")
    }

    func testPipelinedStreamsCutAnywhereGiveTheSameExchanges() {
        let baseline = runPipelined(requestCuts: [], responseCuts: []).exchanges
        XCTAssertEqual(baseline.summaries, expected)
        XCTAssertEqual(baseline.map(\.connection.role), Array(repeating: .client, count: 4))
        let requests = Self.exchanges.reduce(0) { $0 + $1.request.utf8.count }
        let responses = Self.exchanges.reduce(0) { $0 + $1.response.utf8.count }
        for index in 1..<max(requests, responses) {
            let h = runPipelined(requestCuts: [index % requests], responseCuts: [index % responses])
            assertSameExchanges(h.exchanges, baseline, "cut at \(index)")
        }
    }

    private func assertSameExchanges(_ got: [Exchange], _ want: [Exchange], _ message: String,
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.summaries, want.summaries, message, file: file, line: line)
        guard got.summaries == want.summaries else { return }
        XCTAssertEqual(got.map(\.request), want.map(\.request), message, file: file, line: line)
        XCTAssertEqual(got.map(\.response), want.map(\.response), message, file: file, line: line)
    }
}
