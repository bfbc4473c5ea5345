import L7Events
import XCTest
@testable import L7Protocols

/// Bytes the capture did not keep, garbage and hostile input: the exchange
/// concerned may be lost (and counted), the ones around it must not be.
final class HolesAndResyncTests: XCTestCase {
    private var h: TrackerHarness!
    private let key = TrackerHarness.key(1)

    override func setUp() {
        h = TrackerHarness()
        h.open(key, role: .server)
    }

    func testHoleInBodyIsSkippedByLengthAndTheBodySizeStaysRight() {
        h.call(key, .ingress, "POST /upload HTTP/1.1\r\nContent-Length: 10000\r\n\r\n0123456789", hole: 9990)
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + String(repeating: "x", count: 100),
               hole: 69_900)
        h.call(key, .ingress, "GET /next HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("POST", "/upload", 200, requestBody: 10000, responseBody: 70000),
            ExchangeSummary("GET", "/next", 200, responseBody: 2),
        ])
        XCTAssertEqual(h.stats.droppedExchanges, 0)
    }

    func testHoleInAChunkPayloadIsSkippedByLength() {
        h.call(key, .ingress, "GET / HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\nabc", hole: 0x1000 - 3)
        h.call(key, .egress, "\r\n0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/", 200, responseBody: 0x1000)])
    }

    func testHoleInHeadersDropsThatExchangeOnlyAndIsCounted() {
        // The read brought 5000 bytes; the capture kept the first 40.
        h.call(key, .ingress, "GET /first HTTP/1.1\r\nHost: h\r\nCookie: ab", hole: 4960)
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
        h.call(key, .ingress, "GET /second HTTP/1.1\r\nHost: h\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 404 Not Found\r\nContent-Length: 6\r\n\r\nsecond")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/second", 404, responseBody: 6)])
        XCTAssertEqual(h.stats.holesInHeaders, 1)
        XCTAssertEqual(h.stats.droppedExchanges, 0, "the lost exchange is counted once, under its reason")
        XCTAssertEqual(h.stats.orphanResponses, 0)
    }

    func testHoleInResponseHeadersKeepsLaterPairsAligned() {
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nX-Big: aaaa", hole: 9000)
        h.call(key, .egress, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/b", 201), ExchangeSummary("GET", "/c", 202)])
        XCTAssertEqual(h.stats.holesInHeaders, 1)
        XCTAssertEqual(h.stats.droppedExchanges, 0, "the lost exchange is counted once, under its reason")
    }

    func testHoleInChunkFramingKeepsTheExchangeWithoutABodySize() {
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n", hole: 50)
        h.call(key, .egress, "a\r\n0123456789\r\n0\r\n\r\n")  // the rest of that body
        h.call(key, .ingress, "GET /b HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/a", 200, responseBody: nil),
                                               ExchangeSummary("GET", "/b", 200, responseBody: 1)])
        XCTAssertEqual(h.stats.holesInHeaders, 0)
        XCTAssertEqual(h.stats.bodiesOfUnknownSize, 1)
        XCTAssertEqual(h.stats.droppedExchanges, 0)
    }

    func testAResponseLostInAHoleDoesNotShiftLaterPairs() {
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\naaa")
        h.call(key, .ingress, "GET /b HTTP/1.1\r\n\r\n")
        h.call(key, .egress, [UInt8](), hole: 41)  // the whole response to /b went uncaptured
        h.call(key, .ingress, "GET /c HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nccc")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/a", 200, responseBody: 3),
            ExchangeSummary("GET", "/c", 200, responseBody: 3),
        ])
        XCTAssertEqual(h.stats.droppedExchanges, 1)
    }

    func testAHoleRunningPastABodyEndsThatMessageAndKeepsPairing() {
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", hole: 100)
        h.call(key, .ingress, "GET /b HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbbb")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/a", 200, responseBody: 3),
            ExchangeSummary("GET", "/b", 200, responseBody: 3),
        ])
    }

    func testAResponseWhoseRequestWasNeverSeenIsAnOrphan() {
        // The request was lost entirely (say, dropped by a full ring buffer).
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        h.call(key, .ingress, "GET /seen HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nseen")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/seen", 200, responseBody: 4)])
        XCTAssertEqual(h.stats.orphanResponses, 1)
    }

    func testGarbageBeforeARequestIsSkipped() {
        // A socket older than the tracer: its bytes start in the middle of a body.
        let old = TrackerHarness.key(9)
        h.call(old, .ingress, "ata\": [1, 2, 3]}\r\nmore junk GET / HTTP/1.1 in the middle\r\n\u{0}\u{1}\u{2}\r\n"
            + "POST /real HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        h.call(old, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("POST", "/real", 200, requestBody: 2)])
        XCTAssertEqual(h.exchanges.first?.connection.role, .server)
        XCTAssertGreaterThan(h.stats.bytesSkipped, 0)
        XCTAssertTrue(h.ignored.isEmpty)
    }

    func testGarbageAtAMessageBoundaryIsCountedAndTheNextRequestParses() {
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.call(key, .ingress, "\u{0}\u{0}binary\r\nstuff\r\nGET /b HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/a", "/b"])
        XCTAssertEqual(h.stats.malformedMessages, 1)
    }

    func testA64KiBHeaderLineDropsThatExchangeWithoutGrowingMemory() {
        let huge = String(repeating: "a", count: 64 * 1024)
        h.call(key, .ingress, "GET /huge HTTP/1.1\r\nCookie: ")
        for _ in 0..<16 { h.call(key, .ingress, String(huge.prefix(4096))) }
        XCTAssertLessThanOrEqual(h.tracker.bufferedBytes, TrackerLimits().maxHeadBytes)
        h.call(key, .ingress, huge + "\r\n\r\n")
        XCTAssertLessThanOrEqual(h.tracker.bufferedBytes, TrackerLimits().maxHeadBytes)
        h.call(key, .egress, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n")
        h.call(key, .ingress, "GET /small HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/small", 200)])
        XCTAssertEqual(h.stats.oversizedHeads, 1)
        XCTAssertEqual(h.stats.droppedExchanges, 0, "the lost exchange is counted once, under its reason")
        XCTAssertEqual(h.tracker.bufferedBytes, 0)
    }

    func testAHugeHeadInOneCallIsDroppedToo() {
        h.call(key, .ingress, "GET /huge HTTP/1.1\r\nX: " + String(repeating: "b", count: 70_000) + "\r\n\r\nGET /ok HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/ok", 200)])
        XCTAssertEqual(h.stats.oversizedHeads, 1)
    }

    func testChunksOfOneLargeCallWithAMissingMiddleLeaveAHole() {
        let head = "POST /p HTTP/1.1\r\nContent-Length: 300\r\n\r\n".bytes
        let body = [UInt8](repeating: 0x41, count: 300)
        let call = head + body
        h.splitCall(key, .ingress, chunks: [(0, Array(call[0..<100])), (200, Array(call[200..<250]))],
                    returnedLength: call.count)
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("POST", "/p", 200, requestBody: 300)])
    }
}
