import XCTest
@testable import L7Protocols

/// The HTTP/1 parser alone: bytes of one direction in, the events it
/// reports out (no queue, no stitcher, no tracker).
final class HTTP1ParserTests: XCTestCase {
    func testARequestWithABodyIsOneBeginAndOneCompletionWhereverTheCallsSplitIt() {
        let text = "POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n"
        let bytes = Array(text.utf8)
        for cut in 1..<bytes.count {
            var p = ParserUnderTest(.request)
            p.call(Array(bytes[..<cut]))
            p.call(Array(bytes[cut...]))
            XCTAssertEqual(p.events, [.request(method: "POST", target: "/orders"), .completed(.request, bodySize: 5),
                                      .request(method: "GET", target: "/next"), .completed(.request, bodySize: 0)],
                           "cut at \(cut)")
        }
    }

    func testTheAnswerToAHEADHasNoBodyWhateverItsContentLengthSays() {
        var p = ParserUnderTest(.response)
        p.sink.contexts = [.head, .ordinary]
        p.call("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")
        XCTAssertEqual(p.events, [.response(status: 200), .completed(.response, bodySize: 0),
                                  .response(status: 404), .completed(.response, bodySize: 2)])
    }

    func testASuccessfulAnswerToCONNECTEndsParsing() {
        var p = ParserUnderTest(.response)
        p.sink.contexts = [.connect]
        p.call("HTTP/1.1 200 Connection Established\r\n\r\n\u{16}\u{03}\u{01}tunnelled bytes")
        p.call("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(p.events, [.response(status: 200), .completed(.response, bodySize: 0), .switched])
    }

    func testInterimResponsesAreNotMessagesOfTheirOwn() {
        var p = ParserUnderTest(.response)
        p.call("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertEqual(p.events, [.response(status: 201), .completed(.response, bodySize: 2)])
    }

    func testFirstBytesThatAreNotAStartLineSayNotHTTP() {
        var p = ParserUnderTest(nil, mode: .detect)
        p.call("SSH-2.0-OpenSSH_9.2\r\n")
        XCTAssertEqual(p.events, [.notHTTP])
        XCTAssertFalse(p.parser.hasSeenMessage)
    }

    func testAHoleBetweenMessagesLosesStepAndTheNextStartLineRegainsIt() {
        var p = ParserUnderTest(.response, mode: .next)
        p.call("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", hole: 300)
        p.call("tail of something lost\r\nHTTP/1.1 204 No Content\r\n\r\n")
        XCTAssertEqual(p.events, [.response(status: 200), .completed(.response, bodySize: 2),
                                  .lostSync(.response, unexpectedBytes: false),
                                  .response(status: 204), .completed(.response, bodySize: 0)])
        XCTAssertEqual(p.sink.skippedBytes, "tail of something lost\r\n".utf8.count)
    }

    func testAHoleInAChunkedBodyLosesItsSizeAndTheCallEndingWithTheLastChunkEndsIt() {
        var p = ParserUnderTest(.response, mode: .next)
        p.call("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "x", count: 100),
               hole: 2_000)
        p.call("more bytes of the lost body\r\n0\r\n\r\n")
        XCTAssertEqual(p.events, [.response(status: 200), .framingLost(.response, bodySize: nil),
                                  .completed(.response, bodySize: 1024), .lostSync(.response, unexpectedBytes: false)])
    }

    func testAHeadLongerThanTheLimitIsDroppedAsOversized() {
        var p = ParserUnderTest(.request, mode: .next, limits: TrackerLimits(maxHeadBytes: 256))
        p.call("GET / HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 400) + "\r\n\r\n")
        p.call("GET /after HTTP/1.1\r\n\r\n")
        XCTAssertEqual(p.events, [.dropped(.request, .oversized, headReported: false),
                                  .request(method: "GET", target: "/after"), .completed(.request, bodySize: 0)])
    }

    func testABodyCutByTheCloseIsIncomplete() {
        var p = ParserUnderTest(.response, mode: .next)
        p.call("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        p.close()
        XCTAssertEqual(p.events, [.response(status: 200), .incomplete(.response, bodySize: 3)])
    }
}
