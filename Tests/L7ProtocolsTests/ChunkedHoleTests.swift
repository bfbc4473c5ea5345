import L7Events
import XCTest
@testable import L7Protocols

/// Holes (bytes of a call the capture did not keep) in chunked bodies: the
/// exchange is always reported; its body size is exact when the framing
/// could be followed through the hole, and left out when it could not.
final class ChunkedHoleTests: XCTestCase {
    private let key = TrackerHarness.key(1)

    /// Payloads of the chunks of the body used below (the last chunk is added).
    private static let payloads = ["hello", String(repeating: "z", count: 26), "!"]
    private static var bodySize: Int { payloads.reduce(0) { $0 + $1.utf8.count } }

    /// A chunked body with trailers or not, and the byte ranges (relative to
    /// the body's start) within which a hole leaves the framing known.
    private static func chunkedBody(trailers: Bool) -> (bytes: [UInt8], followable: [Range<Int>]) {
        var bytes: [UInt8] = []
        var followable: [Range<Int>] = []
        for payload in payloads {
            bytes += String(payload.utf8.count, radix: 16).bytes + "\r\n".bytes
            let start = bytes.count
            bytes += payload.bytes + "\r\n".bytes
            followable.append(start..<bytes.count)  // payload and the CRLF after it
        }
        bytes += "0\r\n".bytes
        let trailersStart = bytes.count
        bytes += (trailers ? "X-Checksum: 42\r\n\r\n" : "\r\n").bytes
        followable.append(trailersStart..<bytes.count)  // the body is over: only where it ends is unknown
        return (bytes, followable)
    }

    /// Every hole [start, end) in the body of a message, with the rest of
    /// the call after the hole captured (the kernel copies a call's tail) or
    /// not (end = the call's end).
    private func forEveryHole(in head: String, trailers: Bool,
                              _ check: (_ call: (TrackerHarness) -> Void, _ exact: Bool, _ label: String) -> Void) {
        let (body, followable) = Self.chunkedBody(trailers: trailers)
        let message = head.bytes + body
        let bodyStart = head.utf8.count
        for start in 0..<body.count {
            for end in (start + 1)...body.count {
                let exact = followable.contains { $0.contains(start) && end <= $0.upperBound }
                let label = "hole \(start)..<\(end) of \(body.count) body bytes, trailers: \(trailers)"
                check({ h in
                    let direction: Direction = head.hasPrefix("HTTP/") ? .egress : .ingress
                    var chunks = [(offset: 0, bytes: Array(message[0..<(bodyStart + start)]))]
                    if end < body.count { chunks.append((bodyStart + end, Array(message[(bodyStart + end)...]))) }
                    h.splitCall(key, direction, chunks: chunks, returnedLength: message.count)
                }, exact, label)
            }
        }
    }

    func testAResponseWithAHoleAnywhereInItsChunkedBodyIsReportedAndTheNextOneToo() {
        for trailers in [false, true] {
            forEveryHole(in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", trailers: trailers) { call, exact, label in
                let h = TrackerHarness()
                h.open(key, role: .server)
                h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
                call(h)
                h.call(key, .ingress, "GET /b HTTP/1.1\r\n\r\n")
                h.call(key, .egress, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb")
                h.close(key)
                XCTAssertEqual(h.exchanges.summaries, [
                    ExchangeSummary("GET", "/a", 200, responseBody: exact ? Self.bodySize : nil),
                    ExchangeSummary("GET", "/b", 404, responseBody: 1),
                ], label)
                XCTAssertEqual(h.stats.holesInHeaders, 0, label)
                XCTAssertEqual(h.stats.droppedExchanges, 0, label)
                XCTAssertEqual(h.stats.orphanResponses, 0, label)
                XCTAssertEqual(h.stats.bodiesOfUnknownSize, exact ? 0 : 1, label)
            }
        }
    }

    func testARequestWithAHoleAnywhereInItsChunkedBodyIsReportedAndTheNextOneToo() {
        for trailers in [false, true] {
            forEveryHole(in: "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", trailers: trailers) { call, exact, label in
                let h = TrackerHarness()
                h.open(key, role: .server)
                call(h)
                h.call(key, .egress, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                h.call(key, .ingress, "GET /b HTTP/1.1\r\n\r\n")
                h.call(key, .egress, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb")
                h.close(key)
                XCTAssertEqual(h.exchanges.summaries, [
                    ExchangeSummary("POST", "/up", 201, requestBody: exact ? Self.bodySize : nil),
                    ExchangeSummary("GET", "/b", 404, responseBody: 1),
                ], label)
                XCTAssertEqual(h.stats.holesInHeaders, 0, label)
                XCTAssertEqual(h.stats.droppedExchanges, 0, label)
                XCTAssertEqual(h.stats.bodiesOfUnknownSize, exact ? 0 : 1, label)
            }
        }
    }

    func testTheLastResponseOfAConnectionEndsAtTheCloseWhenNothingElseTellsItsEnd() {
        let h = TrackerHarness()
        h.open(key, role: .client)
        h.call(key, .egress, "GET /gz HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n")
        h.call(key, .ingress, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nabc", hole: 300)
        XCTAssertEqual(h.exchanges.count, 0)
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/gz", 200, responseBody: nil)])
        XCTAssertNil(h.exchanges.first?.failure)
    }

    func testALostBodyEndsAtTheEndOfTheCallThatCarriesTheLastChunk() {
        let h = TrackerHarness()
        h.open(key, role: .server)
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", hole: 100)
        h.call(key, .egress, "more payload")
        let end = h.call(key, .egress, "tail of it\r\n0\r\n\r\n".bytes)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/a", 200, responseBody: nil)],
                       "reported as soon as the body ended, not at the next response")
        XCTAssertEqual(h.exchanges.first?.responseTiming?.lastExitNs, end.exit)
    }

    func testALostBodyEndsBeforeACallThatBeginsTheNextResponseAndKeepsItsOwnTiming() {
        let h = TrackerHarness()
        h.open(key, role: .server)
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
        let last = h.call(key, .egress, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc".bytes, hole: 100)
        h.call(key, .ingress, "GET /b HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/a", 200, responseBody: nil),
            ExchangeSummary("GET", "/b", 200, responseBody: 2),
        ])
        XCTAssertEqual(h.exchanges.first?.responseTiming?.lastExitNs, last.exit)
    }

    func testPayloadThatLooksLikeTheEndInTheMiddleOfACallDoesNotEndTheBody() {
        let h = TrackerHarness()
        h.open(key, role: .server)
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", hole: 100)
        h.call(key, .egress, "text\r\n0\r\n\r\nmore text, not a start line\r\n")
        XCTAssertEqual(h.exchanges.count, 0)
        h.call(key, .egress, "\r\n0\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/a", 200, responseBody: nil)])
        XCTAssertEqual(h.stats.malformedMessages, 0)
    }

    func testAHoleRunningFromALostBodyIntoTheNextResponsesKeepsLaterPairsRight() {
        // Pipelined: the hole swallowed the end of /a and all of /b's response.
        let h = TrackerHarness()
        h.open(key, role: .server)
        h.call(key, .ingress, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", hole: 200)
        h.call(key, .ingress, "GET /c HTTP/1.1\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc")
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/a", 200, responseBody: nil),
            ExchangeSummary("GET", "/c", 200, responseBody: 1),
        ])
        XCTAssertEqual(h.stats.droppedExchanges, 1, "/b's response was in the hole")
    }

    func testALargeChunkWhoseHeadAndTailWereCapturedKeepsAnExactSize() {
        // What the kernel sends for a call longer than the capture: its head and its tail.
        let payload = [UInt8](repeating: 0x5A, count: 10_354)
        let message = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".bytes
            + String(payload.count, radix: 16).bytes + "\r\n".bytes + payload + "\r\n0\r\n\r\n".bytes
        let h = TrackerHarness()
        h.open(key, role: .client)
        for _ in 0..<5 {
            h.call(key, .egress, "GET /big.txt HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n")
            h.splitCall(key, .ingress, chunks: [(0, Array(message[0..<4096])),
                                                (message.count - 128, Array(message[(message.count - 128)...]))],
                        returnedLength: message.count)
        }
        XCTAssertEqual(h.exchanges.summaries, Array(repeating: ExchangeSummary("GET", "/big.txt", 200,
                                                                               responseBody: payload.count), count: 5))
        XCTAssertEqual(h.stats.bodiesOfUnknownSize, 0)
    }
}
