import L7Basics
import L7Events
import L7Protocols
@testable import L7Spans
import XCTest

/// gRPC exchanges become RPC spans (never HTTP spans): names, attributes
/// under both conventions, client/server error rules, unknown fields.
final class GRPCSpanTests: XCTestCase {
    private func call(role: ConnectionRole, path: String = "/helloworld.Greeter/SayHello", status: Int?,
                      message: String? = nil, undecoded: UndecodedFields = []) -> Exchange {
        var e = Fixtures.exchange(role: role, method: "POST", target: path, version: "2",
                                  headers: [(":authority", "greeter.local:50051"), ("content-type", "application/grpc"),
                                            ("user-agent", "grpc-python/1.85")])
        e.grpc = GRPCCallInfo(statusCode: status, statusMessage: message, requestMessages: 1, responseMessages: 3)
        e.undecoded = undecoded
        return e
    }

    func testLegacyAttributesByDefault() {
        let span = Fixtures.span(call(role: .client, status: 0))
        XCTAssertEqual(span.name, "helloworld.Greeter/SayHello")
        XCTAssertEqual(span.kind, .client)
        XCTAssertEqual(span.string("rpc.system"), "grpc")
        XCTAssertEqual(span.string("rpc.service"), "helloworld.Greeter")
        XCTAssertEqual(span.string("rpc.method"), "SayHello")
        XCTAssertEqual(span.int("rpc.grpc.status_code"), 0)
        XCTAssertEqual(span.string("server.address"), "greeter.local")
        XCTAssertEqual(span.int("server.port"), 50051)
        XCTAssertEqual(span.int("l7trace.grpc.request.message_count"), 1)
        XCTAssertEqual(span.int("l7trace.grpc.response.message_count"), 3)
        XCTAssertEqual(span.statusCode, .unset)
        XCTAssertNil(span.attribute("http.request.method"), "no HTTP attributes on an RPC span")
        XCTAssertNil(span.attribute("rpc.status_code"))
        XCTAssertEqual(Set(span.attributes.map(\.key)).count, span.attributes.count)
    }

    func testStableConventionsUnderOptIn() {
        XCTAssertEqual(SpanOptions.rpcConventions(environmentValue: "http, rpc"), .stable)
        XCTAssertEqual(SpanOptions.rpcConventions(environmentValue: "rpc/dup"), .both)
        XCTAssertEqual(SpanOptions.rpcConventions(environmentValue: nil), .legacy)
        let span = Fixtures.span(call(role: .server, status: 5), options: SpanOptions(rpcConventions: .stable))
        XCTAssertEqual(span.name, "helloworld.Greeter/SayHello")
        XCTAssertEqual(span.string("rpc.system.name"), "grpc")
        XCTAssertEqual(span.string("rpc.method"), "helloworld.Greeter/SayHello")
        XCTAssertEqual(span.string("rpc.status_code"), "NOT_FOUND")
        XCTAssertNil(span.attribute("rpc.system"))
        XCTAssertNil(span.attribute("rpc.service"))
        XCTAssertNil(span.attribute("rpc.grpc.status_code"))
    }

    func testClientAndServerErrorRules() {
        for (code, clientError, serverError) in [(0, false, false), (5, true, false), (13, true, true),
                                                 (1, true, false), (14, true, true), (12, true, true)] {
            let client = Fixtures.span(call(role: .client, status: code, message: "boom"))
            let server = Fixtures.span(call(role: .server, status: code, message: "boom"))
            XCTAssertEqual(client.statusCode, clientError ? .error : .unset, "client \(code)")
            XCTAssertEqual(server.statusCode, serverError ? .error : .unset, "server \(code)")
            if clientError {
                XCTAssertEqual(client.string("error.type"), GRPCStatus.names[code])
                XCTAssertEqual(client.statusMessage, "boom")
            }
        }
    }

    func testUnknownMethodAndStatusAreNotGuessed() {
        let span = Fixtures.span(call(role: .server, path: "", status: nil, undecoded: [.target, .grpcStatus]))
        XCTAssertEqual(span.name, "grpc")
        XCTAssertNil(span.attribute("rpc.method"))
        XCTAssertNil(span.attribute("rpc.grpc.status_code"))
        XCTAssertEqual(span.statusCode, .unset)
        XCTAssertEqual(span.attribute("l7trace.undecoded"), .stringArray(["target", "grpc_status"]))
    }

    func testPlainHTTP2RequestIsAnHTTPSpan() {
        let span = Fixtures.span(Fixtures.exchange(target: "/index.html", version: "2",
                                                   headers: [(":authority", "www.example.org:8443")]))
        XCTAssertEqual(span.name, "GET /index.html")
        XCTAssertEqual(span.string("network.protocol.version"), "2")
        XCTAssertEqual(span.string("server.address"), "www.example.org")
        XCTAssertEqual(span.int("server.port"), 8443)
    }

    func testHTTP2RequestWithUnknownMethodIsNamedHTTP() {
        var e = Fixtures.exchange(method: "", target: "", version: "2", headers: [], status: 200)
        e.undecoded = [.method, .target]
        let span = Fixtures.span(e)
        XCTAssertEqual(span.name, "HTTP")
        XCTAssertNil(span.attribute("http.request.method"))
        XCTAssertEqual(span.attribute("l7trace.undecoded"), .stringArray(["method", "target"]))
    }
}
