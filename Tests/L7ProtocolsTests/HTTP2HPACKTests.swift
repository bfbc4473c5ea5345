import L7Events
@testable import L7Protocols
import XCTest

/// Our HPACK decoder against libnghttp2's encoder (an independent
/// implementation): dynamic-table evictions, size updates, Huffman, and a
/// capture that starts mid-connection.
final class HTTP2HPACKTests: XCTestCase {
    private func decode(_ decoder: inout HPACKDecoder, _ block: [UInt8]) throws -> [HPACKField] {
        try block.withUnsafeBytes { try decoder.decode($0) }
    }

    private func known(_ fields: [(String, String)]) -> [HPACKField] { fields.map { HPACKField(name: $0.0, value: $0.1) } }

    private func requestFields(_ i: Int) -> [(String, String)] {
        H2.request(i % 3 == 0 ? "POST" : "GET", "/orders/\(i % 7)", extra: [
            ("x-request-id", "req-\(i)-\(String(repeating: "z", count: i % 40))"),
            ("user-agent", "client/1.\(i % 2)"), ("accept", "*/*"),
        ])
    }

    func testEvictionsInASmallTable() throws {
        let encoder = HPACKEncoder(maxTableSize: 256)
        var decoder = HPACKDecoder(startsEmpty: true)
        // The encoder must tell the decoder about its smaller table.
        encoder.changeTableSize(256)
        for i in 0..<200 {
            let fields = requestFields(i)
            XCTAssertEqual(try decode(&decoder, encoder.encode(fields)), known(fields), "block \(i)")
        }
        XCTAssertLessThanOrEqual(decoder.maxSize, 256)
    }

    func testSizeUpdatesShrinkAndGrowTheTable() throws {
        let encoder = HPACKEncoder(maxTableSize: 4096)
        var decoder = HPACKDecoder(startsEmpty: true)
        for i in 0..<60 {
            if i == 20 { encoder.changeTableSize(64); decoder.settingsChanged(headerTableSize: 64) }
            if i == 40 { encoder.changeTableSize(4096); decoder.settingsChanged(headerTableSize: 4096) }
            let fields = requestFields(i)
            XCTAssertEqual(try decode(&decoder, encoder.encode(fields)), known(fields), "block \(i)")
            if i == 25 { XCTAssertLessThanOrEqual(decoder.maxSize, 64) }
        }
    }

    func testInvalidBlocksThrowAndForgetTheTable() {
        var decoder = HPACKDecoder(startsEmpty: true)
        XCTAssertThrowsError(try decode(&decoder, [0x80]), "index 0")
        XCTAssertThrowsError(try decode(&decoder, [0x40, 0x85, 0x01]), "string longer than the block")
        XCTAssertThrowsError(try decode(&decoder, [0x82, 0x3f, 0xe1, 0x1f]), "size update after a field")
        XCTAssertFalse(decoder.isExact)
    }

    /// The capture starts after 30 blocks: every field is either exactly
    /// what was sent or unknown (nil), never something else; once the
    /// encoder has re-inserted what it refers to, fields are exact again —
    /// except a name the encoder keeps taking from the newest entry with
    /// that name (`x-request-id` here): that chain started before the
    /// capture, so its name stays unknown while its values are exact.
    func testMidConnectionIsUnknownThenExactNeverWrong() throws {
        let encoder = HPACKEncoder()
        for i in 0..<30 { _ = encoder.encode(requestFields(i)) }  // before the capture
        var decoder = HPACKDecoder(startsEmpty: false)
        var firstAllKnown: Int?
        var sawUnknown = false
        for i in 30..<200 {
            let fields = requestFields(i)
            let decoded = try decode(&decoder, encoder.encode(fields))
            XCTAssertEqual(decoded.count, fields.count)
            for (d, f) in zip(decoded, fields) {
                if let name = d.name { XCTAssertEqual(name, f.0, "block \(i)") }
                if let value = d.value { XCTAssertEqual(value, f.1, "block \(i)") }
            }
            let chained = decoded[4].value?.hasPrefix("req-") == true && decoded[4].name == nil
            if decoded.enumerated().contains(where: { ($0.element.name == nil && !($0.offset == 4 && chained))
                                                       || $0.element.value == nil }) {
                sawUnknown = true
                XCTAssertNil(firstAllKnown.map { _ in () }, "after becoming exact, block \(i) had unknown fields")
            } else if firstAllKnown == nil {
                firstAllKnown = i
            }
        }
        XCTAssertTrue(sawUnknown, "the first blocks refer to entries from before the capture")
        let exactAt = try XCTUnwrap(firstAllKnown)
        XCTAssertLessThan(exactAt - 30, 60, "names are exact again within this many requests")
        XCTAssertTrue(decoder.isExact)
        print("HPACK mid-connection: exact again after \(exactAt - 30) blocks")
    }

    /// The same through the tracker: a connection seen mid-way gives spans
    /// whose method and path are marked unknown until the table is known,
    /// and exact afterwards.
    func testMidConnectionExchangesMarkUnknownFields() throws {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        // Before the tracer: the same request many times (all indexed).
        let fixed = H2.grpcRequest("/shop.Cart/Add")
        for _ in 0..<5 { _ = enc.encode(fixed); _ = dec.encode([(":status", "200"), ("content-type", "application/grpc")]) }
        var stream: UInt32 = 101
        var results: [Exchange] = []
        for i in 0..<80 {
            // Each call carries a new metadata value, so the table turns over.
            let fields = fixed + [("x-request-id", "id-\(i)-\(String(repeating: "q", count: 30))")]
            h.call(key, .egress, H2.headers(enc.encode(fields), stream: stream)
                   + H2.data(H2.grpcMessages([4]), stream: stream, endStream: true) + H2.windowUpdate(stream: 0))
            h.call(key, .ingress, H2.headers(dec.encode([(":status", "200"), ("content-type", "application/grpc")]), stream: stream)
                   + H2.data(H2.grpcMessages([2]), stream: stream)
                   + H2.headers(dec.encode([("grpc-status", "0")]), stream: stream, endStream: true))
            stream += 2
        }
        results = h.exchanges
        XCTAssertEqual(h.tracker.detectedProtocol(of: key), .http2)
        XCTAssertGreaterThan(results.count, 70)
        for e in results {
            if !e.undecoded.contains(.method) { XCTAssertEqual(e.request.method, "POST") }
            if !e.undecoded.contains(.target) { XCTAssertEqual(e.request.target, "/shop.Cart/Add") }
        }
        XCTAssertFalse(results.first!.undecoded.isEmpty, "fields from before the capture are unknown")
        let named = { (e: Exchange) in e.undecoded.isDisjoint(with: [.method, .target, .grpcStatus]) }
        let exact = try XCTUnwrap(results.firstIndex(where: named))
        XCTAssertTrue(results[exact...].allSatisfy { named($0) && $0.grpc?.statusCode == 0 })
        print("gRPC mid-connection: names exact from call \(exact + 1) of \(results.count)")
        XCTAssertEqual(results.last?.connection.role, .client, "role inferred from :method")
    }
}
