import L7Export
@testable import L7Spans
import XCTest

/// The wire encoder writes, byte for byte, what protobuf-c writes for the
/// same spans (OTLPEncoderTests decodes them with the official package).
final class OTLPWireEncoderTests: XCTestCase {
    /// Deterministic, varied spans: every attribute type, empty and long
    /// strings, negative numbers, ids and times of every size.
    private struct Generator {
        var random: SplitMix64
        init(state: UInt64) { random = SplitMix64(state: state) }
        mutating func next() -> UInt64 { random.next() }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func text() -> String {
            let pieces = ["", "a", "GET", "/users/*", "ünïcode ✓", String(repeating: "x", count: 130),
                          String(repeating: "long/", count: 3000)]
            return pieces[below(pieces.count)]
        }
        mutating func value() -> AttributeValue {
            switch below(6) {
            case 0: return .string(text())
            case 1: return .int(Int64(bitPattern: next()) >> UInt64(below(64)))
            case 2: return .double(Double(Int64(bitPattern: next())) / 7)
            case 3: return .bool(below(2) == 0)
            case 4: return .stringArray((0..<below(4)).map { _ in text() })
            default: return .int(0)
            }
        }
        mutating func span(pid: UInt32) -> SpanRecord {
            SpanRecord(traceID: TraceID(high: next() >> UInt64(below(64)), low: next()), spanID: SpanID(next() | 1),
                       parentSpanID: below(2) == 0 ? nil : SpanID(next()), traceState: below(3) == 0 ? "k=v" : "",
                       name: text(), kind: SpanKind(rawValue: Int32(below(6)))!, startUnixNano: next() >> UInt64(below(64)),
                       endUnixNano: next(), attributes: (0..<below(20)).map { Attribute("key.\($0)\(text())", value()) },
                       statusCode: StatusCode(rawValue: Int32(below(3)))!, statusMessage: below(4) == 0 ? text() : "",
                       flags: below(2) == 0 ? 0 : UInt32(truncatingIfNeeded: next()), pid: pid)
        }
    }

    func testTheBytesAreProtobufCs() {
        var generator = Generator(state: 42)
        let wire = OTLPWireEncoder(scopeName: "l7trace", scopeVersion: "1.2.3")
        let reference = OTLPEncoder(scopeName: "l7trace", scopeVersion: "1.2.3")
        for round in 0..<60 {
            let batches = (0..<generator.below(5)).map { index -> ResourceBatch in
                let pid = UInt32(index + 1)
                let resource = ProcessResource(pid: pid, attributes: (0..<generator.below(6)).map {
                    Attribute("r\($0)", generator.value())
                })
                return ResourceBatch(resource: resource, spans: (0..<generator.below(40)).map { _ in generator.span(pid: pid) })
            }
            XCTAssertEqual(wire.encode(batches), reference.encode(batches), "round \(round)")
        }
    }

    func testAnEmptyScopeNameIsLeftOutAsProtobufCDoes() {
        let batches = [ResourceBatch(resource: ProcessResource(pid: 1, attributes: []), spans: [])]
        XCTAssertEqual(OTLPWireEncoder(scopeName: "", scopeVersion: "").encode(batches),
                       OTLPEncoder(scopeName: "", scopeVersion: "").encode(batches))
    }

    func testHeadroomComesBeforeTheMessage() {
        var generator = Generator(state: 7)
        let batches = [ResourceBatch(resource: ProcessResource(pid: 1, attributes: [Attribute("service.name", .string("s"))]),
                                     spans: (0..<50).map { _ in generator.span(pid: 1) })]
        let encoder = OTLPWireEncoder()
        let expected = OTLPEncoder().encode(batches)
        encoder.withEncodedRequest(batches, headroom: 5) { buffer in
            XCTAssertEqual(buffer.count, expected.count + 5)
            XCTAssertEqual(Array(buffer[5...]), expected)
        }
    }
}
