import L7Events
@testable import L7Protocols
import XCTest

/// Input an attacker sends to a traced port (or a malicious server to a
/// traced client): the tracer's memory stays bounded, what it leaves out is
/// counted, and the spans of the requests it keeps are right.
final class HostileInputTests: XCTestCase {
    /// The amplifying block of issue 21: GET, http, `/`, `:authority: h`,
    /// one literal with indexing of a 4,000-byte value, then `BE` (a
    /// reference to that entry, 1 byte for 4 KB) to `size` bytes.
    static func amplifyingBlock(size: Int = 64 * 1024, prefix: [UInt8] = []) -> [UInt8] {
        var block = prefix + [0x82, 0x86, 0x84, 0x01, 0x01, 0x68]
        block += [0x40, 0x05] + Array("x-big".utf8) + [0x7F, 0xA1, 0x1E] + [UInt8](repeating: 0x61, count: 4000)
        block += [UInt8](repeating: 0xBE, count: size - block.count)
        return block
    }

    /// A frame of any size (the frames are 64 KiB, above the default maximum).
    private static func headersFrame(_ block: [UInt8], stream: UInt32, endStream: Bool = false) -> [UInt8] {
        H2.headers(block, stream: stream, endStream: endStream)
    }

    private func attackedServer() -> (TrackerHarness, ConnectionKey) {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        h.call(key, .ingress, H2.preface + H2.settings())
        h.call(key, .egress, H2.settings() + H2.settings(ack: true))
        return (h, key)
    }

    func testIndexedReferencesToALargeEntryKeepBoundedMemoryAndAreCounted() {
        let (h, key) = attackedServer()
        h.call(key, .ingress, Self.headersFrame(Self.amplifyingBlock(), stream: 1))
        // Eight more 64 KiB blocks on the same stream (kept by nothing: each
        // would add ~250 MB were every reference copied).
        let more = [UInt8](repeating: 0xBE, count: 64 * 1024)
        for _ in 0..<8 { h.call(key, .ingress, Self.headersFrame(more, stream: 1)) }
        let held = h.tracker.heldMessages(of: key)!
        XCTAssertLessThanOrEqual(held.http2HeaderBytes, HTTP2Stitcher.streamHeaderLimit + HTTP2Stitcher.spanFieldReserve)
        XCTAssertGreaterThan(h.stats.headerFieldsOmitted, 9 * 60_000)
        // The stream ends and is answered: its span has the fields a span reads.
        h.call(key, .ingress, H2.data(0, stream: 1, endStream: true))
        let response = HPACKEncoder().encode([(":status", "200")])
        h.call(key, .egress, H2.headers(response, stream: 1, endStream: true))
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/", 200)])
        XCTAssertEqual(h.exchanges.first?.request.headers[":authority"], "h")
        XCTAssertTrue(h.exchanges.first?.undecoded.contains(.otherFields) ?? false, "fields were left out")
        XCTAssertEqual(h.tracker.heldMessages(of: key)?.http2HeaderBytes, 0)
    }

    /// Many streams, each with one amplifying block: the connection's total is bounded too.
    func testManyStreamsShareOneConnectionBound() {
        let (h, key) = attackedServer()
        let block = Self.amplifyingBlock()
        for n in 0..<24 { h.call(key, .ingress, Self.headersFrame(block, stream: UInt32(2 * n + 1))) }
        let held = h.tracker.heldMessages(of: key)!
        XCTAssertLessThanOrEqual(held.http2HeaderBytes,
                                 HTTP2Stitcher.connectionHeaderLimit + HTTP2Stitcher.connectionSpanFieldReserve)
        XCTAssertGreaterThan(h.stats.headerFieldsOmitted, 24 * 60_000)
    }

    /// The cost is linear in the input and small: a block of references to
    /// a 4 KB entry decodes within a small factor of one referring to a static
    /// entry (each took ~460 ms per 64 KiB when every reference was copied).
    func testDecodingCostIsLinearInTheInput() {
        let amplifying = Self.amplifyingBlock()
        let plain = [UInt8](repeating: 0x82, count: amplifying.count)
        func secondsToDecode(_ block: [UInt8]) -> Double {
            var decoder = HPACKDecoder(startsEmpty: true)
            var list = HPACKHeaderList()
            let start = Date()
            for _ in 0..<16 {
                list.removeAll()
                (list.keepLimit, list.spanFieldLimit) = (64 * 1024, 72 * 1024)
                block.withUnsafeBytes { try? decoder.decode($0, into: &list) }
                XCTAssertLessThanOrEqual(list.heldBytes, 72 * 1024)
            }
            return Date().timeIntervalSince(start)
        }
        let plainSeconds = secondsToDecode(plain), amplifyingSeconds = secondsToDecode(amplifying)
        XCTAssertLessThan(amplifyingSeconds, 10 * plainSeconds + 0.05, "plain \(plainSeconds) s")
    }

    /// `3F E1 FF 3F`: a size update to 1 MiB, above the 4,096 bytes the decoder advertised.
    func testASizeUpdateAboveTheAdvertisedLimitIsRefused() throws {
        var decoder = HPACKDecoder(startsEmpty: true)
        let update: [UInt8] = [0x3F, 0xE1, 0xFF, 0x3F]
        XCTAssertThrowsError(try (update + [0x82]).withUnsafeBytes { try decoder.decode($0) }) { error in
            XCTAssertEqual(error as? HPACKDecoder.Failure, .sizeUpdateAboveLimit)
        }
        XCTAssertEqual(decoder.maxSize, 4096)
        // Once the decoder advertised 1 MiB, the same update is valid.
        decoder.settingsChanged(headerTableSize: 1 << 20)
        XCTAssertEqual(try (update + [0x82]).withUnsafeBytes { try decoder.decode($0) }, [HPACKField(name: ":method", value: "GET")])
        XCTAssertEqual(decoder.maxSize, 1 << 20)
    }

    /// The limit that binds a decoder is the one its own side sent: a client
    /// advertising 1 MiB does not let it send a 1 MiB size update to the server.
    func testTheBindingLimitIsTheOneTheDecodingSideSent() {
        let block = [0x3F, 0xE1, 0xFF, 0x3F] + HPACKEncoder().encode(H2.request("GET", "/big-table"))
        let reply = HPACKEncoder().encode([(":status", "200")])
        // The client (ingress here) says 1 MiB: that binds the server's encoder, not the client's.
        let (h, key) = attackedServer()
        h.call(key, .ingress, H2.settings([(1, 1 << 20)]) + H2.headers(block, stream: 1)
               + H2.headers([0xBE, 0xBE], stream: 1, endStream: true))  // then "trailers" the table cannot tell
        h.call(key, .egress, H2.headers(reply, stream: 1, endStream: true))
        XCTAssertEqual(h.exchanges.count, 0, "a request whose head was refused is a counted loss, not a span")
        XCTAssertEqual(h.stats.malformedMessages, 1)
        XCTAssertEqual(h.stats.orphanResponses + h.stats.droppedExchanges, 0)

        // The server (egress) says 1 MiB: the client may grow its table to that.
        let h2 = TrackerHarness()
        h2.open(key, role: .server)
        h2.call(key, .ingress, H2.preface + H2.settings())
        h2.call(key, .egress, H2.settings([(1, 1 << 20)]) + H2.settings(ack: true))
        h2.call(key, .ingress, H2.headers(block, stream: 1, endStream: true))
        h2.call(key, .egress, H2.headers(reply, stream: 1, endStream: true))
        XCTAssertEqual(h2.exchanges.summaries, [ExchangeSummary("GET", "/big-table", 200)])
        XCTAssertEqual(h2.stats.malformedMessages, 0)
    }

    /// A new limit binds from the encoder's ACK: before it, the old limit or
    /// the new one may be in force, so either is accepted; after it, only the new.
    func testTheLimitChangesWhenTheEncodersSideAcknowledgesIt() throws {
        var decoder = HPACKDecoder(startsEmpty: true)
        let to4096: [UInt8] = [0x3F, 0xE1, 0x1F, 0x82], to8192: [UInt8] = [0x3F, 0xE1, 0x3F, 0x82]
        decoder.settingsSent(headerTableSize: 0)
        XCTAssertNoThrow(try to4096.withUnsafeBytes { try decoder.decode($0) }, "not acknowledged: 4096 still binds")
        decoder.settingsAcknowledged()
        XCTAssertThrowsError(try to4096.withUnsafeBytes { try decoder.decode($0) }, "acknowledged: 0 binds")
        decoder.settingsSent(headerTableSize: nil)
        decoder.settingsSent(headerTableSize: 8192)
        XCTAssertNoThrow(try to8192.withUnsafeBytes { try decoder.decode($0) }, "8192 in flight")
        decoder.settingsAcknowledged()
        decoder.settingsAcknowledged()
        XCTAssertEqual(decoder.settingsLimit, 8192)
    }

    /// Through the tracker: the server lowers its limit to 0; the client's
    /// size update to 4,096 before its ACK is valid, after it is refused.
    func testALoweredLimitBindsAfterTheClientsAck() {
        let enc = HPACKEncoder()
        let (h, key) = attackedServer()
        let request = { (path: String) in [0x3F, 0xE1, 0x1F] + enc.encode(H2.request("GET", path)) }
        let reply = { HPACKEncoder().encode([(":status", "200")]) }
        h.call(key, .ingress, H2.settings(ack: true))  // of the server's first SETTINGS
        h.call(key, .egress, H2.settings([(1, 0)]))
        h.call(key, .ingress, H2.headers(request("/before-ack"), stream: 1, endStream: true))
        h.call(key, .egress, H2.headers(reply(), stream: 1, endStream: true))
        h.call(key, .ingress, H2.settings(ack: true) + H2.headers(request("/after-ack"), stream: 3, endStream: true))
        h.call(key, .egress, H2.headers(reply(), stream: 3, endStream: true))
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/before-ack"])
        XCTAssertEqual(h.stats.malformedMessages, 1)
    }

    /// 12 MiB of pipelined requests and no response: the queue keeps at most
    /// `maxPendingRequests` heads, the others are counted as they arrive.
    func testPipelinedRequestsWithNoResponseKeepBoundedMemory() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let request = Array("GET /pipelined/0123456789 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: flood\r\nAccept: */*\r\n\r\n".utf8)
        let perCall = 64 * 1024 / request.count
        let call = Array([[UInt8]](repeating: request, count: perCall).joined())
        var sent = 0
        while sent < 12 * 1024 * 1024 / request.count {
            h.call(key, .ingress, call)
            sent += perCall
        }
        let held = h.tracker.heldMessages(of: key)!
        let limit = h.tracker.limits.maxPendingRequests
        XCTAssertEqual(held.requestHeads, limit)
        XCTAssertLessThanOrEqual(held.queueEntries, 2 * limit + 1)
        XCTAssertEqual(h.stats.pipelineOverflows, sent - limit)
        // The first `limit` requests are answered, in order, and still paired right.
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
        h.call(key, .egress, Array([[UInt8]](repeating: reply, count: limit + 3).joined()))
        XCTAssertEqual(h.exchanges.count, limit)
        XCTAssertEqual(h.stats.orphanResponses, 0)
    }

    /// A 6,000-byte URL on a keep-alive connection, of which the capture
    /// kept 4,096 bytes: the request is counted lost, and the next one pairs right.
    func testARequestLineLongerThanTheCaptureIsCounted() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let line = "GET /" + String(repeating: "u", count: 6000) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        h.call(key, .ingress, Array(line.utf8.prefix(4096)), hole: line.utf8.count - 4096)
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        h.call(key, .ingress, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 204 No Content\r\n\r\n")
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/next", 204)])
        XCTAssertEqual(h.stats.holesInHeaders, 1)
        XCTAssertEqual(h.stats.droppedExchanges + h.stats.orphanResponses, 0)
    }

    /// HEADERS then 10,000 CONTINUATION frames (600 KB): counted once as
    /// too large, whether the block ends or the connection closes first.
    func testEndlessContinuationIsCountedOnceAsTooLarge() {
        for ends in [true, false] {
            let h = TrackerHarness()
            let key = TrackerHarness.key(1)
            h.open(key, role: .server)
            let head = HPACKEncoder().encode(H2.request("GET", "/flood"))
            var wire = H2.preface + H2.settings() + H2.frame(.headers, flags: 0x1, stream: 1, head)
            let filler = [UInt8](repeating: 0x82, count: 60)
            for n in 0..<10_000 {
                wire += H2.frame(.continuation, flags: ends && n == 9_999 ? 0x4 : 0, stream: 1, filler)
            }
            h.call(key, .ingress, wire)
            if ends { h.call(key, .egress, H2.headers(HPACKEncoder().encode([(":status", "431")]), stream: 1, endStream: true)) }
            h.close(key)
            XCTAssertEqual(h.exchanges.count, 0, "ends: \(ends)")
            XCTAssertEqual(h.stats.oversizedHeads, 1, "ends: \(ends)")
            XCTAssertEqual(h.tracker.http2Stats.oversizedHeads, 1, "under HTTP/2, not HTTP/1")
            XCTAssertEqual(h.stats.orphanResponses + h.stats.droppedExchanges + h.stats.holesInHeaders, 0, "ends: \(ends)")
        }
    }
}

/// Pipelining past the queue together with holes in the responses: each of
/// the exchanges is a span or one counted loss, never two (CI once saw
/// 393 spans + 270 losses for 300 pipelined requests seen from both sides).
final class PipelineOverflowWithHolesTests: XCTestCase {
    private let request = Array("GET /pipelined HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
    private let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfoobar".utf8)

    private func lost(_ s: ProtocolStats) -> Int {
        s.droppedExchanges + s.holesInHeaders + s.malformedMessages + s.oversizedHeads + s.pipelineOverflows
            + s.orphanResponses
    }

    /// 300 requests in three writes, then the 300 responses in writes of
    /// `perWrite` of which the capture kept the first `kept` bytes.
    private func run(perWrite: Int, kept: Int) -> (spans: Int, lost: Int) {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        for _ in 0..<3 { h.call(key, .ingress, Array([[UInt8]](repeating: request, count: 100).joined())) }
        var answered = 0
        while answered < 300 {
            let n = min(perWrite, 300 - answered)
            let write = Array([[UInt8]](repeating: reply, count: n).joined())
            let captured = min(kept, write.count)
            h.call(key, .egress, Array(write.prefix(captured)), hole: write.count - captured)
            answered += n
        }
        h.close(key)
        return (h.exchanges.count, lost(h.stats))
    }

    func testEachExchangeIsASpanOrOneLoss() {
        for perWrite in [1, 7, 30, 64, 100, 128, 300] {
            for kept in [50, 400, 1000, 2000, 4096, 16384] {
                let result = run(perWrite: perWrite, kept: kept)
                XCTAssertEqual(result.spans + result.lost, 300, "\(perWrite) per write, \(kept) kept: \(result)")
            }
        }
    }
}
