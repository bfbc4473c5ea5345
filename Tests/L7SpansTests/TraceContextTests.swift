import L7Protocols
@testable import L7Spans
import XCTest

final class TraceContextTests: XCTestCase {
    static let traceHex = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let parentHex = "00f067aa0ba902b7"
    static let valid = "00-\(traceHex)-\(parentHex)-01"
    static let traceID = TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736)
    static let parentID = SpanID(0x00f0_67aa_0ba9_02b7)

    /// (headers, expected flags byte or nil when invalid, description)
    static let cases: [([(String, String)], UInt8?, String)] = [
        ([("traceparent", valid)], 0x01, "valid"),
        ([("Traceparent", "00-\(traceHex)-\(parentHex)-00")], 0x00, "not sampled, any header case"),
        ([("traceparent", " \t" + valid + " ")], 0x01, "surrounding whitespace"),
        ([("traceparent", "00-\(traceHex)-\(parentHex)-03")], 0x03, "random flag"),
        ([("traceparent", "cc-\(traceHex)-\(parentHex)-01")], 0x01, "higher version, exact length"),
        ([("traceparent", "cc-\(traceHex)-\(parentHex)-01-what-the-future-holds")], 0x01, "higher version with more fields"),
        ([("traceparent", "cc-\(traceHex)-\(parentHex)-01x")], nil, "higher version, no dash after 55"),
        ([("traceparent", "ff-\(traceHex)-\(parentHex)-01")], nil, "version ff"),
        ([("traceparent", "00-00000000000000000000000000000000-\(parentHex)-01")], nil, "zero trace id"),
        ([("traceparent", "00-\(traceHex)-0000000000000000-01")], nil, "zero parent id"),
        ([("traceparent", "00-\(traceHex.uppercased())-\(parentHex)-01")], nil, "uppercase trace id"),
        ([("traceparent", "00-\(traceHex)-\(parentHex)-0A")], nil, "uppercase flags"),
        ([("traceparent", "00-\(traceHex.dropLast())g-\(parentHex)-01")], nil, "non-hex"),
        ([("traceparent", "00-\(traceHex)-\(parentHex)-01-extra")], nil, "extra after version 00"),
        ([("traceparent", valid + "0")], nil, "too long"),
        ([("traceparent", String(valid.dropLast()))], nil, "too short"),
        ([("traceparent", "00-\(traceHex)0-\(parentHex)-1")], nil, "dashes misplaced"),
        ([("traceparent", "0x-\(traceHex)-\(parentHex)-01")], nil, "bad version"),
        ([("traceparent", valid), ("traceparent", valid)], nil, "two headers"),
        ([("traceparent", "")], nil, "empty"),
        ([], nil, "absent"),
    ]

    func testParsingTable() {
        for (headers, flags, description) in Self.cases {
            let parsed = TraceParent(headers: HTTPHeaders(headers.map { (name: $0.0, value: $0.1) }))
            if let flags {
                XCTAssertEqual(parsed?.traceID, Self.traceID, description)
                XCTAssertEqual(parsed?.parentID, Self.parentID, description)
                XCTAssertEqual(parsed?.flags, flags, description)
            } else {
                XCTAssertNil(parsed, description)
            }
        }
    }

    func testServerSpanBecomesChildOfValidTraceparent() {
        for (headers, flags, description) in Self.cases {
            let span = Fixtures.span(Fixtures.exchange(role: .server, headers: headers + [("tracestate", "congo=t61rcWkgMzE")]))
            if let flags {
                XCTAssertEqual(span.traceID, Self.traceID, description)
                XCTAssertEqual(span.parentSpanID, Self.parentID, description)
                XCTAssertNotEqual(span.spanID, Self.parentID, description)
                XCTAssertTrue(span.spanID.isValid, description)
                XCTAssertEqual(span.flags, UInt32(flags) | 0x300, description)
                XCTAssertEqual(span.traceState, "congo=t61rcWkgMzE", description)
            } else {
                XCTAssertNotEqual(span.traceID, Self.traceID, description)
                XCTAssertNil(span.parentSpanID, description)
                XCTAssertEqual(span.flags, 0x101, description)
                XCTAssertEqual(span.traceState, "", "tracestate without a valid traceparent is dropped: \(description)")
            }
        }
    }

    func testClientSpanTakesTheHeadersParentIDAsItsOwnID() {
        for (headers, flags, description) in Self.cases {
            let span = Fixtures.span(Fixtures.exchange(role: .client, headers: headers))
            if let flags {
                XCTAssertEqual(span.traceID, Self.traceID, description)
                XCTAssertEqual(span.spanID, Self.parentID, description)
                XCTAssertNil(span.parentSpanID, description)
                XCTAssertEqual(span.flags, UInt32(flags) | 0x100, description)
            } else {
                XCTAssertNotEqual(span.traceID, Self.traceID, description)
                XCTAssertNotEqual(span.spanID, Self.parentID, description)
                XCTAssertNil(span.parentSpanID, description)
            }
        }
    }

    func testTracestateValidation() {
        let cases: [([String], String)] = [
            (["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            (["rojo=1 , ,congo=2"], "rojo=1,congo=2"),
            (["rojo=1", "congo=2"], "rojo=1,congo=2"),
            (["tenant@system=v", "1tenant@sys=v"], "tenant@system=v,1tenant@sys=v"),
            (["Rojo=1"], ""),
            (["rojo=1,rojo=2"], ""),
            (["rojo"], ""),
            (["rojo=a=b"], ""),
            (["rojo=trailing-ows "], "rojo=trailing-ows"),
            (["rojo=tab\tinside"], ""),
            (["rojo=" + String(repeating: "v", count: 257)], ""),
            (["rojo="], ""),
            (["@system=v"], ""),
            ([(0..<33).map { "k\($0)=v" }.joined(separator: ",")], ""),
            ([(0..<32).map { "k\($0)=v" }.joined(separator: ",")], (0..<32).map { "k\($0)=v" }.joined(separator: ",")),
        ]
        for (fields, expected) in cases {
            let headers = HTTPHeaders(fields.map { (name: "tracestate", value: $0) })
            XCTAssertEqual(TraceState.validated(headers), expected, "\(fields)")
        }
        let invalidState = Fixtures.span(Fixtures.exchange(headers: [("traceparent", Self.valid), ("tracestate", "BAD=1")]))
        XCTAssertEqual(invalidState.traceID, Self.traceID, "a bad tracestate does not void the traceparent")
        XCTAssertEqual(invalidState.traceState, "")
    }
}
