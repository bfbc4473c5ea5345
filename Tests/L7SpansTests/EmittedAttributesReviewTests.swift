import Foundation
import XCTest

/// Every attribute name the spans layer can emit, with what its value may
/// carry. A new name in `Sources/L7Spans` fails this test until it is added
/// here, that is, until someone has asked whether it can carry a secret, a
/// body, or a header value the conventions do not name.
final class EmittedAttributesReviewTests: XCTestCase {
    static let reviewed: [String: String] = [
        // Span attributes.
        "http.request.method": "the method token",
        "http.request.method_original": "a method token the conventions do not know",
        "http.route": "the path (credential-like matrix parameter values redacted) or a --route template",
        "url.scheme": "http or https",
        "url.path": "the path, credential-like matrix parameter values redacted",
        "url.query": "the query, credential-like parameter values redacted; absent with --omit-url-query",
        "url.full": "scheme, host, port, redacted path and query; never user-info",
        "server.address": "Host/:authority or the address connected to",
        "server.port": "a port number",
        "client.address": "the peer address, or Forwarded/X-Forwarded-For's first address",
        "network.peer.address": "the peer's IP address",
        "network.peer.port": "a port number",
        "network.protocol.version": "1.0, 1.1 or 2",
        "user_agent.original": "the User-Agent header, which the conventions name",
        "http.request.body.size": "a byte count, never body bytes",
        "http.response.body.size": "a byte count, never body bytes",
        "http.response.status_code": "a number",
        "error.type": "a status code or a fixed failure name",
        "l7trace.undecoded": "names of fields the capture could not decode",
        "rpc.system": "grpc",
        "rpc.system.name": "grpc",
        "rpc.service": "the gRPC service name from :path",
        "rpc.method": "the gRPC method name from :path",
        "rpc.method_original": "a :path that is not service/method, as sent",
        "rpc.grpc.status_code": "a number",
        "rpc.status_code": "a gRPC code name",
        "http2.stream.error_code": "an RST_STREAM error code name",
        "l7trace.grpc.request.message_count": "a count of length-prefixed messages, never their bytes",
        "l7trace.grpc.response.message_count": "a count of length-prefixed messages, never their bytes",
        // Resource attributes.
        "service.name": "from the process's OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES or executable name",
        "service.instance.id": "a UUID derived from host and pid",
        "host.name": "the host name",
        "container.id": "the container id from the cgroup path",
        "process.pid": "a number",
        "process.executable.name": "the executable's file name",
        "process.executable.path": "the executable's path",
        "process.command_args": "the command line (may hold secrets: only with an explicit opt-in)",
        "telemetry.sdk.name": "l7trace",
        "telemetry.sdk.language": "swift",
        "telemetry.sdk.version": "the tracer's version",
    ]

    func testEveryAttributeNameInTheSpansLayerWasReviewed() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/L7Spans").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        XCTAssertFalse(files.isEmpty)
        // Dotted lowercase string literals: attribute names, wherever they are built.
        let literal = try NSRegularExpression(pattern: #""([a-z][a-z0-9_]*(\.[a-z0-9_]+)+)""#)
        var found: Set<String> = []
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for match in literal.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                found.insert(String(text[Range(match.range(at: 1), in: text)!]))
            }
        }
        let unreviewed = found.subtracting(Self.reviewed.keys).sorted()
        XCTAssertEqual(unreviewed, [], "review what these may carry, then add them to `reviewed`")
        XCTAssertEqual(Set(Self.reviewed.keys).subtracting(found).sorted(), [], "no longer emitted: remove them")
    }
}
