import Foundation
import L7Export
import L7Spans
import XCTest

/// The encoder's bytes, decoded by the official opentelemetry-proto package.
final class OTLPEncoderTests: XCTestCase {
    /// Prints the decoded request as JSON, attributes as "member=json value"
    /// so the test sees which AnyValue member carried each one.
    private static let decoder = """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from otlp_receiver import any_value
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    data = sys.stdin.buffer.read()
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(data)
    def typed(kvs):
        return {kv.key: kv.value.WhichOneof("value") + "=" + json.dumps(any_value(kv.value)) for kv in kvs}
    out = {"reencoded_equal": request.SerializeToString() == data, "resource_spans": []}
    for rs in request.resource_spans:
        entry = {"resource": typed(rs.resource.attributes), "scopes": []}
        for ss in rs.scope_spans:
            spans = []
            for s in ss.spans:
                spans.append({"trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(), "trace_state": s.trace_state, "name": s.name,
                    "kind": s.kind, "start": str(s.start_time_unix_nano), "end": str(s.end_time_unix_nano),
                    "attributes": typed(s.attributes), "attribute_order": [kv.key for kv in s.attributes],
                    "has_status": s.HasField("status"), "status_code": s.status.code,
                    "status_message": s.status.message, "flags": s.flags})
            entry["scopes"].append({"name": ss.scope.name, "version": ss.scope.version, "spans": spans})
        out["resource_spans"].append(entry)
    print(json.dumps(out))
    """

    private func decode(_ bytes: [UInt8]) throws -> [String: Any] {
        try Python.requireOTLP()
        let scripts = Python.receiverScript.deletingLastPathComponent().path
        let (status, output) = try Python.run(["-c", Self.decoder, scripts], input: bytes)
        XCTAssertEqual(status, 0, "the official decoder rejected the request")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: output) as? [String: Any])
    }

    private let nginx = ProcessResource(pid: 4242, attributes: [
        Attribute("service.name", .string("nginx")),
        Attribute("process.pid", .int(4242)),
        Attribute("host.name", .string("büro-host")),
    ])
    private let curl = ProcessResource(pid: 77, attributes: [Attribute("service.name", .string("curl"))])

    private func fullSpan() -> SpanRecord {
        SpanRecord(
            traceID: TraceID(high: 0x0af7_6519_16cd_43dd, low: 0x8448_eb21_1c80_319c),
            spanID: SpanID(0xb7ad_6b71_6920_3331),
            parentSpanID: SpanID(0x00f0_67aa_0ba9_02b7),
            traceState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
            name: "GET /users/*",
            kind: .server,
            startUnixNano: 1_764_017_941_123_456_789,
            endUnixNano: 1_764_017_941_124_691_000,
            attributes: [
                Attribute("http.request.method", .string("GET")),
                Attribute("http.response.status_code", .int(503)),
                Attribute("negative", .int(-42)),
                Attribute("zero", .int(0)),
                Attribute("big", .int(Int64.max)),
                Attribute("ratio", .double(0.25)),
                Attribute("enabled", .bool(true)),
                Attribute("disabled", .bool(false)),
                Attribute("empty", .string("")),
                Attribute("tags", .stringArray(["a", "ünïcode", ""])),
                Attribute("no.tags", .stringArray([])),
            ],
            statusCode: .error,
            statusMessage: "upstream unavailable",
            flags: 0x301,
            pid: 4242)
    }

    private func rootSpan() -> SpanRecord {
        SpanRecord(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), parentSpanID: nil, name: "POST /login",
                   kind: .client, startUnixNano: 10, endUnixNano: 20, attributes: [], statusCode: .unset, flags: 0,
                   pid: 77)
    }

    func testEveryFieldSurvivesTheOfficialDecoder() throws {
        let batches = [ResourceBatch(resource: nginx, spans: [fullSpan(), rootSpan()]),
                       ResourceBatch(resource: curl, spans: [rootSpan()])]
        let bytes = OTLPWireEncoder(scopeName: "l7trace", scopeVersion: "9.8.7").encode(batches)
        XCTAssertEqual(bytes, OTLPEncoder(scopeName: "l7trace", scopeVersion: "9.8.7").encode(batches), "the wire encoder and protobuf-c disagree")
        let decoded = try decode(bytes)

        XCTAssertEqual(decoded["reencoded_equal"] as? Bool, true, "protobuf-c and the official encoder disagree on bytes")
        let resources = try XCTUnwrap(decoded["resource_spans"] as? [[String: Any]])
        XCTAssertEqual(resources.count, 2)
        XCTAssertEqual(resources[0]["resource"] as? [String: String], [
            "service.name": "string_value=\"nginx\"", "process.pid": "int_value=4242",
            "host.name": "string_value=\"b\\u00fcro-host\"",
        ])
        XCTAssertEqual(resources[1]["resource"] as? [String: String], ["service.name": "string_value=\"curl\""])

        let scopes = try XCTUnwrap(resources[0]["scopes"] as? [[String: Any]])
        XCTAssertEqual(scopes.count, 1)
        XCTAssertEqual(scopes[0]["name"] as? String, "l7trace")
        XCTAssertEqual(scopes[0]["version"] as? String, "9.8.7")
        let spans = try XCTUnwrap(scopes[0]["spans"] as? [[String: Any]])
        XCTAssertEqual(spans.count, 2)

        let full = spans[0]
        XCTAssertEqual(full["trace_id"] as? String, "0af7651916cd43dd8448eb211c80319c")
        XCTAssertEqual(full["span_id"] as? String, "b7ad6b7169203331")
        XCTAssertEqual(full["parent_span_id"] as? String, "00f067aa0ba902b7")
        XCTAssertEqual(full["trace_state"] as? String, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        XCTAssertEqual(full["name"] as? String, "GET /users/*")
        XCTAssertEqual(full["kind"] as? Int, 2)
        XCTAssertEqual(full["start"] as? String, "1764017941123456789")
        XCTAssertEqual(full["end"] as? String, "1764017941124691000")
        XCTAssertEqual(full["attributes"] as? [String: String], [
            "http.request.method": "string_value=\"GET\"",
            "http.response.status_code": "int_value=503",
            "negative": "int_value=-42",
            "zero": "int_value=0",
            "big": "int_value=9223372036854775807",
            "ratio": "double_value=0.25",
            "enabled": "bool_value=true",
            "disabled": "bool_value=false",
            "empty": "string_value=\"\"",
            "tags": "array_value=[\"a\", \"\\u00fcn\\u00efcode\", \"\"]",
            "no.tags": "array_value=[]",
        ])
        XCTAssertEqual(full["attribute_order"] as? [String], fullSpan().attributes.map(\.key))
        XCTAssertEqual(full["status_code"] as? Int, 2)
        XCTAssertEqual(full["status_message"] as? String, "upstream unavailable")
        XCTAssertEqual(full["flags"] as? Int, 0x301)

        let root = spans[1]
        XCTAssertEqual(root["trace_id"] as? String, "00000000000000010000000000000002")
        XCTAssertEqual(root["span_id"] as? String, "0000000000000003")
        XCTAssertEqual(root["parent_span_id"] as? String, "", "a root span has an empty parent id")
        XCTAssertEqual(root["trace_state"] as? String, "")
        XCTAssertEqual(root["kind"] as? Int, 3)
        XCTAssertEqual(root["attributes"] as? [String: String], [:])
        XCTAssertEqual(root["status_code"] as? Int, 0)
        XCTAssertEqual(root["status_message"] as? String, "")
        XCTAssertEqual(root["flags"] as? Int, 0)

        let curlSpans = try XCTUnwrap((resources[1]["scopes"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])
        XCTAssertEqual(curlSpans.map { $0["name"] as? String }, ["POST /login"])
    }

    func testAnEmptyRequestIsEmpty() {
        XCTAssertEqual(OTLPEncoder().encode([]), [])
        XCTAssertEqual(OTLPWireEncoder().encode([]), [])
    }

    /// The arena and output buffer are reused: a second, different request
    /// must not carry anything of the first.
    func testReusingTheEncoderGivesIndependentRequests() throws {
        let encoder = OTLPWireEncoder()
        let big = encoder.encode([ResourceBatch(resource: nginx, spans: Array(repeating: fullSpan(), count: 300))])
        let small = encoder.encode([ResourceBatch(resource: curl, spans: [rootSpan()])])
        XCTAssertGreaterThan(big.count, 100_000)
        XCTAssertEqual(small, OTLPEncoder().encode([ResourceBatch(resource: curl, spans: [rootSpan()])]))
        XCTAssertEqual(big, OTLPEncoder().encode([ResourceBatch(resource: nginx, spans: Array(repeating: fullSpan(), count: 300))]))

        let decoded = try decode(big)
        let spans = (((decoded["resource_spans"] as? [[String: Any]])?.first?["scopes"] as? [[String: Any]])?.first?["spans"])
            as? [[String: Any]]
        XCTAssertEqual(spans?.count, 300)
        XCTAssertEqual(decoded["reencoded_equal"] as? Bool, true)
    }

    func testTheDefaultScopeIsL7TraceAtItsVersion() {
        let encoder = OTLPEncoder()
        XCTAssertEqual(encoder.scopeName, "l7trace")
        XCTAssertEqual(encoder.scopeVersion, L7TraceVersion.current)
    }
}
