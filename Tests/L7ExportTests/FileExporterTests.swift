import Foundation
import L7Export
import L7Spans
import XCTest

/// OTLP JSON lines, read back by the official protobuf JSON parser
/// (`google.protobuf.json_format.Parse` into opentelemetry-proto's `TracesData`).
final class FileExporterTests: XCTestCase {
    private func richSpan() -> SpanRecord {
        var span = Samples.span(name: "GET /q \"quoted\"\\path\n", id: 0xfeed_face_cafe_beef, status: 503, kind: .client)
        span.parentSpanID = SpanID(0x00f0_67aa_0ba9_02b7)
        span.traceState = "vendor=a"
        span.statusCode = .error
        span.statusMessage = "ünïcode \u{1}"
        span.attributes += [Attribute("neg", .int(-42)), Attribute("ratio", .double(0.25)), Attribute("ok", .bool(false)),
                            Attribute("list", .stringArray(["a", "b"]))]
        return span
    }

    /// Parses each line with json_format.Parse into TracesData and prints what the test checks.
    private func parse(_ text: [UInt8]) throws -> [[String: Any]] {
        try Python.requireOTLP()
        let script = """
        import json, sys
        from google.protobuf import json_format
        from opentelemetry.proto.trace.v1 import trace_pb2
        out = []
        for line in sys.stdin.read().splitlines():
            data = json_format.Parse(line, trace_pb2.TracesData())
            raw = json.loads(line)
            for r, rs in enumerate(data.resource_spans):
                for s, ss in enumerate(rs.scope_spans):
                    for i, span in enumerate(ss.spans):
                        raw_span = raw["resourceSpans"][r]["scopeSpans"][s]["spans"][i]
                        attrs = {}
                        for kv in span.attributes:
                            which = kv.value.WhichOneof("value")
                            value = getattr(kv.value, which)
                            attrs[kv.key] = list(v.string_value for v in value.values) if which == "array_value" else value
                        out.append({"service": rs.resource.attributes[0].value.string_value, "scope": ss.scope.name,
                                    "name": span.name, "kind": span.kind, "start": span.start_time_unix_nano,
                                    "end": span.end_time_unix_nano, "status": span.status.code,
                                    "message": span.status.message, "trace_state": span.trace_state, "flags": span.flags,
                                    "attributes": attrs, "trace_id": raw_span["traceId"], "span_id": raw_span["spanId"],
                                    "parent_span_id": raw_span.get("parentSpanId", "")})
        print(json.dumps(out))
        """
        let (status, output) = try Python.run(["-c", script], input: text)
        XCTAssertEqual(status, 0, "json_format.Parse refused the line")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: output) as? [[String: Any]])
    }

    func testEveryLineIsATracesDataTheOfficialParserAccepts() throws {
        var encoder = OTLPJSONEncoder()
        var text = encoder.encode([
            ResourceBatch(resource: Samples.resource(pid: 1, service: "nginx"), spans: [Samples.span(), richSpan()]),
            ResourceBatch(resource: Samples.resource(pid: 2, service: "curl"), spans: [Samples.span(id: 3)]),
        ])
        text += encoder.encode([ResourceBatch(resource: Samples.resource(pid: 1, service: "nginx"), spans: [Samples.span(id: 4)])])
        XCTAssertEqual(text.filter { $0 == UInt8(ascii: "\n") }.count, 2, "one line per batch")

        let spans = try parse(text)
        XCTAssertEqual(spans.map { $0["service"] as? String }, ["nginx", "nginx", "curl", "nginx"])
        XCTAssertEqual(spans[0]["scope"] as? String, "l7trace")
        XCTAssertEqual(spans[0]["name"] as? String, "GET /users/*")
        XCTAssertEqual(spans[0]["kind"] as? Int, 2)
        XCTAssertEqual(spans[0]["start"] as? Int, 1_700_000_000_000_000_000)
        XCTAssertEqual(spans[0]["end"] as? Int, 1_700_000_000_001_234_000)
        XCTAssertEqual(spans[0]["trace_id"] as? String, "4bf92f3577b34da6a3ce929d0e0e4736", "ids are hex, not base64")
        XCTAssertEqual(spans[0]["span_id"] as? String, "0000000000000001")
        XCTAssertEqual(spans[0]["flags"] as? Int, 0x101)
        XCTAssertEqual((spans[0]["attributes"] as? [String: Any])?["http.response.status_code"] as? Int, 200)

        let rich = spans[1]
        XCTAssertEqual(rich["name"] as? String, "GET /q \"quoted\"\\path\n")
        XCTAssertEqual(rich["kind"] as? Int, 3)
        XCTAssertEqual(rich["span_id"] as? String, "feedfacecafebeef")
        XCTAssertEqual(rich["parent_span_id"] as? String, "00f067aa0ba902b7")
        XCTAssertEqual(rich["trace_state"] as? String, "vendor=a")
        XCTAssertEqual(rich["status"] as? Int, 2)
        XCTAssertEqual(rich["message"] as? String, "ünïcode \u{1}")
        let attributes = try XCTUnwrap(rich["attributes"] as? [String: Any])
        XCTAssertEqual(attributes["neg"] as? Int, -42)
        XCTAssertEqual(attributes["ratio"] as? Double, 0.25)
        XCTAssertEqual(attributes["ok"] as? Bool, false)
        XCTAssertEqual(attributes["list"] as? [String], ["a", "b"])
    }

    func testTheFileExporterAppendsOneLinePerExport() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("l7trace-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exporter = try FileExporter(path: path)
        XCTAssertEqual(exporter.export([ResourceBatch(resource: Samples.resource(), spans: [Samples.span(id: 1)])]), .success)
        XCTAssertEqual(exporter.export([]), .success)
        XCTAssertEqual(exporter.export([ResourceBatch(resource: Samples.resource(), spans: [Samples.span(id: 2)])]), .success)
        exporter.shutdown()
        let text = try XCTUnwrap(FileManager.default.contents(atPath: path))
        let spans = try parse(Array(text))
        XCTAssertEqual(spans.map { $0["span_id"] as? String }, ["0000000000000001", "0000000000000002"])
    }

    func testTheFileIsCreatedReadableByItsOwnerOnly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("l7trace-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let old = umask(0o022)
        defer { umask(old) }
        let exporter = try FileExporter(path: path)
        exporter.shutdown()
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
    }

    func testAnUnwritablePathIsOneClearLine() {
        XCTAssertThrowsError(try FileExporter(path: "/nonexistent/dir/spans.jsonl")) { error in
            XCTAssertEqual("\(error)", "l7trace: cannot open --output /nonexistent/dir/spans.jsonl: No such file or directory")
        }
    }
}
