import L7Events
@testable import L7Protocols
import XCTest

/// HTTP/2 and gRPC through the connection tracker: what a user would see
/// as exchanges (method, path, status, sizes, gRPC status and counts).
final class HTTP2ExchangeTests: XCTestCase {
    /// A client connection: preface + SETTINGS, one GET, the server's answer.
    private func simpleConversation() -> (client: [[UInt8]], server: [[UInt8]]) {
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        let request = H2.headers(enc.encode(H2.request("GET", "/items/7?x=1", extra: [("user-agent", "curl/8")])),
                                 stream: 1, endStream: true)
        let response = H2.headers(dec.encode([(":status", "200"), ("content-type", "text/plain")]), stream: 1)
            + H2.data(300, stream: 1) + H2.data(20, stream: 1, endStream: true)
        return ([H2.preface + H2.settings([(1, 4096)]), H2.settings(ack: true) + request],
                [H2.settings([(3, 100)]) + H2.settings(ack: true), response])
    }

    func testPlainGETOnAClientConnection() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        let c = simpleConversation()
        h.call(key, .egress, c.client[0])
        h.call(key, .ingress, c.server[0])
        h.call(key, .egress, c.client[1])
        h.call(key, .ingress, c.server[1])
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/items/7?x=1", 200, responseBody: 320)])
        let e = h.exchanges[0]
        XCTAssertEqual(e.request.version, "2")
        XCTAssertEqual(e.request.headers[":authority"], "example.com:8080")
        XCTAssertEqual(e.request.headers["user-agent"], "curl/8")
        XCTAssertEqual(e.streamID, 1)
        XCTAssertNil(e.grpc)
        XCTAssertEqual(e.undecoded, [])
        XCTAssertEqual(h.stats.http2Connections, 1)
    }

    /// Every split of each direction's bytes into two calls gives the same exchange.
    func testSplitAtEveryBoundary() {
        let c = simpleConversation()
        let client = c.client.flatMap { $0 }, server = c.server.flatMap { $0 }
        for (label, whole) in [("client", client), ("server", server)] {
            for cut in 1..<whole.count {
                let h = TrackerHarness()
                let key = TrackerHarness.key(1)
                h.open(key, role: .server)
                // The server's view: ingress = client bytes.
                if label == "client" {
                    h.call(key, .ingress, Array(whole[..<cut]))
                    h.call(key, .ingress, Array(whole[cut...]))
                    h.call(key, .egress, server)
                } else {
                    h.call(key, .ingress, client)
                    h.call(key, .egress, Array(whole[..<cut]))
                    h.call(key, .egress, Array(whole[cut...]))
                }
                XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/items/7?x=1", 200, responseBody: 320)],
                               "\(label) split at \(cut)")
            }
        }
    }

    func testContinuationPaddingAndPriority() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let enc = HPACKEncoder()
        let block = enc.encode(H2.request("POST", "/upload", extra: [("x-long", String(repeating: "v", count: 300))]))
        // HEADERS: padded (5 bytes of padding) with priority, first 40 bytes; then two CONTINUATIONs.
        let head = [UInt8(5)] + [0, 0, 0, 0, 16] + Array(block[0..<40]) + [UInt8](repeating: 0, count: 5)
        var bytes = H2.preface + H2.settings()
        bytes += H2.frame(.headers, flags: 0x8 | 0x20, stream: 1, head)
        bytes += H2.frame(.continuation, stream: 1, Array(block[40..<100]))
        bytes += H2.frame(.continuation, flags: 0x4, stream: 1, Array(block[100...]))
        // Padded DATA: 10 data bytes, 7 of padding.
        bytes += H2.frame(.data, flags: 0x8 | 0x1, stream: 1, [7] + [UInt8](repeating: 1, count: 10) + [UInt8](repeating: 0, count: 7))
        h.call(key, .ingress, bytes)
        let dec = HPACKEncoder()
        h.call(key, .egress, H2.settings() + H2.headers(dec.encode([(":status", "201")]), stream: 1, endStream: true))
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("POST", "/upload", 201, requestBody: 10)])
        XCTAssertEqual(h.exchanges.first?.request.headers["x-long"]?.count, 300)
    }

    func testInterleavedStreamsAndInformationalResponses() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        h.call(key, .egress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/a")), stream: 1, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/b")), stream: 3, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/c")), stream: 5, endStream: true))
        h.call(key, .ingress, H2.settings()
               + H2.headers(dec.encode([(":status", "100")]), stream: 3)
               + H2.headers(dec.encode([(":status", "404")]), stream: 3, endStream: true)
               + H2.headers(dec.encode([(":status", "200")]), stream: 1) + H2.data(5, stream: 1)
               + H2.rst(stream: 5, code: HTTP2ErrorCode.refusedStream)
               + H2.data(5, stream: 1, endStream: true))
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/b", 404),
            ExchangeSummary("GET", "/c", nil, failure: .streamReset),
            ExchangeSummary("GET", "/a", 200, responseBody: 10),
        ])
        XCTAssertEqual(h.exchanges[1].streamErrorCode, HTTP2ErrorCode.refusedStream)
    }

    func testGoawayEndsStreamsThePeerNeverProcessed() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        let enc = HPACKEncoder()
        h.call(key, .egress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/a")), stream: 1, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/b")), stream: 3, endStream: true))
        h.call(key, .ingress, H2.settings() + H2.goaway(last: 1, code: 0))
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/b", nil, failure: .streamRefused)])
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries.last, ExchangeSummary("GET", "/a", nil, failure: .connectionClosed))
    }

    /// The server's side of the same: a stream it never processed is no
    /// server span but a counted loss, even one whose HEADERS it read after
    /// sending GOAWAY; a GOAWAY the client sends says nothing of its own streams.
    func testStreamsAboveTheServersGoawayGiveNoServerSpan() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        h.call(key, .ingress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/a")), stream: 1, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/b")), stream: 3, endStream: true))
        h.call(key, .egress, H2.settings() + H2.goaway(last: 1, code: 0))
        h.call(key, .ingress, H2.headers(enc.encode(H2.request("GET", "/c")), stream: 5, endStream: true)
               + H2.goaway(last: 0, code: 0))
        h.call(key, .egress, H2.headers(dec.encode([(":status", "200")]), stream: 1, endStream: true))
        h.close(key)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/a", 200)])
        XCTAssertEqual(h.stats.refusedStreams, 2)
        XCTAssertEqual(h.tracker.http2Stats.refusedStreams, 2)
    }

    func testPushedStreamsAreIgnoredButTheirBlocksDecoded() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        h.call(key, .egress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/")), stream: 1, endStream: true))
        let promise = dec.encode(H2.request("GET", "/style.css"))
        let pushResponse = dec.encode([(":status", "200"), ("x-pushed", "yes")])
        let response = dec.encode([(":status", "200"), ("x-pushed", "yes")])  // refers to the table
        h.call(key, .ingress, H2.settings()
               + H2.frame(.pushPromise, flags: 0x4, stream: 1, H2.be32(2) + promise)
               + H2.headers(pushResponse, stream: 2) + H2.data(100, stream: 2, endStream: true)
               + H2.headers(response, stream: 1, endStream: true))
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/", 200)])
        XCTAssertEqual(h.exchanges.first?.response?.headers["x-pushed"], "yes")
    }

    // MARK: - gRPC

    private func grpcCall(_ path: String, requestMessages: [Int], response: [UInt8], role: ConnectionRole = .client)
        -> Exchange? {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: role)
        let enc = HPACKEncoder()
        let request = H2.preface + H2.settings()
            + H2.headers(enc.encode(H2.grpcRequest(path)), stream: 1)
            + H2.data(H2.grpcMessages(requestMessages), stream: 1, endStream: true)
        h.call(key, role == .client ? .egress : .ingress, request)
        h.call(key, role == .client ? .ingress : .egress, response)
        XCTAssertEqual(h.exchanges.count, 1)
        return h.exchanges.first
    }

    func testGRPCUnaryOKWithTrailers() throws {
        let dec = HPACKEncoder()
        let response = H2.settings()
            + H2.headers(dec.encode([(":status", "200"), ("content-type", "application/grpc")]), stream: 1)
            + H2.data(H2.grpcMessages([12]), stream: 1)
            + H2.headers(dec.encode([("grpc-status", "0"), ("grpc-message", "")]), stream: 1, endStream: true)
        let e = try XCTUnwrap(grpcCall("/helloworld.Greeter/SayHello", requestMessages: [7], response: response))
        XCTAssertEqual(e.request.target, "/helloworld.Greeter/SayHello")
        XCTAssertEqual(e.grpc, GRPCCallInfo(statusCode: 0, statusMessage: "", requestMessages: 1, responseMessages: 1))
    }

    func testGRPCTrailersOnlyErrorWithPercentEncodedMessage() throws {
        let dec = HPACKEncoder()
        let response = H2.settings() + H2.headers(dec.encode([
            (":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "5"),
            ("grpc-message", "no%20such%20user%3A%20%C3%A9"),
        ]), stream: 1, endStream: true)
        let e = try XCTUnwrap(grpcCall("/users.Users/Get", requestMessages: [3], response: response))
        XCTAssertEqual(e.grpc?.statusCode, 5)
        XCTAssertEqual(e.grpc?.statusMessage, "no such user: é")
        XCTAssertEqual(e.grpc?.responseMessages, 0)
    }

    func testGRPCStatusFromRSTStreamAndHTTPStatus() throws {
        let cancelled = try XCTUnwrap(grpcCall("/a.B/C", requestMessages: [1],
                                               response: H2.settings() + H2.rst(stream: 1, code: HTTP2ErrorCode.cancel)))
        XCTAssertEqual(cancelled.grpc?.statusCode, 1)
        XCTAssertEqual(cancelled.failure, .streamReset)
        let dec = HPACKEncoder()
        let unavailable = try XCTUnwrap(grpcCall("/a.B/C", requestMessages: [1], response: H2.settings()
            + H2.headers(dec.encode([(":status", "503"), ("content-type", "application/grpc")]), stream: 1, endStream: true)))
        XCTAssertEqual(unavailable.grpc?.statusCode, 14)
    }

    func testGRPCStreamingCountsMessagesAcrossFramesAndHoles() throws {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        // Client streaming: 3 messages split over frames (a prefix split in two).
        let messages = H2.grpcMessages([10, 2000, 0])
        h.call(key, .ingress, H2.preface + H2.settings() + H2.headers(enc.encode(H2.grpcRequest("/s.S/Up")), stream: 1)
               + H2.data(Array(messages[0..<8]), stream: 1))
        h.call(key, .ingress, H2.data(Array(messages[8...]), stream: 1, endStream: true))
        // Server streaming 4 messages of 5000 bytes: one DATA frame whose middle the kernel did not copy.
        let out = H2.grpcMessages([5000, 5000, 5000, 5000])
        let frame = H2.data(out, stream: 1)
        h.call(key, .egress, H2.settings() + H2.headers(dec.encode([(":status", "200"), ("content-type", "application/grpc")]), stream: 1)
               + Array(frame[0..<100]), hole: frame.count - 100)
        h.call(key, .egress, H2.headers(dec.encode([("grpc-status", "0")]), stream: 1, endStream: true))
        let e = try XCTUnwrap(h.exchanges.first)
        XCTAssertEqual(e.grpc?.requestMessages, 3)
        XCTAssertNil(e.grpc?.responseMessages, "a hole hid message boundaries: unknown, not a wrong count")
        XCTAssertEqual(e.responseBodySize, out.count)
        XCTAssertEqual(e.grpc?.statusCode, 0)
    }

    /// A 2 MiB response in one write, followed in the same write by the
    /// HEADERS of another stream: with the frame headers of the write
    /// captured (chunks at their offsets, as the kernel sends them for
    /// HTTP/2 connections), DATA payloads are skipped by length and the
    /// HEADERS after them are read.
    func testLargeResponseSkippedByLengthAcrossHoles() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        h.call(key, .ingress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/big")), stream: 1, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/small", extra: [("x-id", "1")])), stream: 3, endStream: true))
        h.call(key, .egress, H2.settings())
        var big = H2.headers(dec.encode([(":status", "200"), ("x-size", "big")]), stream: 1)
        var chunks: [(offset: Int, bytes: [UInt8])] = [(0, big)]
        for i in 0..<128 {
            let frame = H2.data(16384, stream: 1, endStream: i == 127)
            chunks.append((big.count, Array(frame[0..<9])))
            big += frame
        }
        let small = H2.headers(dec.encode([(":status", "200"), ("x-size", "small")]), stream: 3)
            + H2.data(5, stream: 3, endStream: true)
        chunks.append((big.count, small))
        h.splitCall(key, .egress, chunks: chunks, returnedLength: big.count + small.count)
        XCTAssertEqual(h.exchanges.summaries, [
            ExchangeSummary("GET", "/big", 200, responseBody: 128 * 16384),
            ExchangeSummary("GET", "/small", 200, responseBody: 5),
        ])
        XCTAssertEqual(h.exchanges.last?.response?.headers["x-size"], "small")
    }

    /// Without those chunks, a hole over frame headers loses the frame
    /// boundary: the reader resumes at the next call, the header table of
    /// that direction is unknown from there (never wrong), and the cut
    /// stream ends with the connection.
    func testHoleOverFrameHeadersResumesAtTheNextCall() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        h.call(key, .ingress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/big")), stream: 1, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/small")), stream: 3, endStream: true))
        var big = H2.settings() + H2.headers(dec.encode([(":status", "200"), ("x-size", "big")]), stream: 1)
        for i in 0..<128 { big += H2.data(16384, stream: 1, endStream: i == 127) }
        h.call(key, .egress, Array(big[0..<4096]), hole: big.count - 4096)
        h.call(key, .egress, H2.headers(dec.encode([(":status", "200"), ("x-size", "big")]), stream: 3)
               + H2.data(5, stream: 3, endStream: true))
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/small", 200, responseBody: 5)])
        XCTAssertNil(h.exchanges.first?.response?.headers["x-size"], "a field from the unknown table is not guessed")
        h.close(key)
        XCTAssertEqual(h.exchanges.last?.failure, .responseIncomplete)
    }

    // MARK: - Detection

    func testBinaryProtocolsAreNotTakenForHTTP2() {
        var rng = SeededGenerator(seed: 7)
        for round in 0..<200 {
            let h = TrackerHarness()
            let key = TrackerHarness.key(UInt64(round))
            // A connection seen mid-way (no open event): only shape can tell.
            for _ in 0..<8 {
                let n = Int.random(in: 9...600, using: &rng)
                var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if round % 2 == 0 {
                    // A MySQL-like packet stream: 3-byte little-endian length, sequence number.
                    let len = n - 4
                    bytes.replaceSubrange(0..<4, with: [UInt8(len & 0xff), UInt8(len >> 8), 0, UInt8(round % 4)])
                } else if round % 3 == 0 {
                    // Records that each look like one DATA frame filling the call.
                    bytes.replaceSubrange(0..<9, with: [0, UInt8((n - 9) >> 8), UInt8((n - 9) & 0xff), 0, 0, 0, 0, 0, 1])
                }
                h.call(key, .ingress, bytes)
                h.call(key, .egress, (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            XCTAssertNotEqual(h.tracker.detectedProtocol(of: key), .http2, "round \(round)")
        }
    }

    func testMidConnectionFramesAreDetectedByShape() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        let enc = HPACKEncoder()
        // No open event: the connection predates the tracer.
        for i in 0..<3 {
            h.call(key, .egress, H2.headers(enc.encode(H2.request("GET", "/n/\(i)")), stream: UInt32(2 * i + 1), endStream: true)
                   + H2.windowUpdate(stream: 0) + H2.ping())
        }
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .http2)
    }

    /// The capture is told once per connection that it speaks HTTP/2 (so
    /// that the kernel copies its large writes whole), whether the preface
    /// or the frames' shape gave it away; HTTP/1 connections are not.
    func testTheCaptureIsToldOnceThatAConnectionSpeaksHTTP2() {
        let h = TrackerHarness()
        let fromStart = TrackerHarness.key(1), midway = TrackerHarness.key(2), http1 = TrackerHarness.key(3)
        h.open(fromStart, role: .client)
        let c = simpleConversation()
        for (i, bytes) in c.client.enumerated() {
            h.call(fromStart, .egress, bytes)
            h.call(fromStart, .ingress, c.server[i])
        }
        let enc = HPACKEncoder()
        for i in 0..<3 {
            h.call(midway, .egress, H2.headers(enc.encode(H2.request("GET", "/n/\(i)")), stream: UInt32(2 * i + 1),
                                               endStream: true) + H2.windowUpdate(stream: 0) + H2.ping())
        }
        h.open(http1, role: .client)
        h.call(http1, .egress, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        h.call(http1, .ingress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(h.toldHTTP2.map(\.0), [fromStart, midway])
        XCTAssertEqual(h.toldHTTP2.map(\.1), [7, 7])
    }
}
