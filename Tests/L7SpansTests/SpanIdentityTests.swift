import L7Events
import L7Protocols
@testable import L7Spans
import XCTest

/// A client span takes the ids the linking stage fixed when its request began.
final class SpanIdentityTests: XCTestCase {
    let identity = SpanIdentity(traceID: TraceID(high: 0xAB, low: 0xCD), spanID: SpanID(0x1234))

    func testAClientSpanTakesItsPreassignedIdentity() {
        let span = Fixtures.builder().span(for: Fixtures.exchange(role: .client), identity: identity)
        XCTAssertEqual(span.traceID, identity.traceID)
        XCTAssertEqual(span.spanID, identity.spanID)
        XCTAssertNil(span.parentSpanID)
        XCTAssertEqual(span.flags, 0x101)
    }

    func testAGRPCClientSpanTakesItToo() {
        var exchange = Fixtures.exchange(role: .client, method: "POST", target: "/pkg.Svc/Get", version: "2",
                                         headers: [(":authority", "x"), ("content-type", "application/grpc")])
        exchange.grpc = GRPCCallInfo(statusCode: 0)
        let span = Fixtures.builder().span(for: exchange, identity: identity)
        XCTAssertEqual(span.spanID, identity.spanID)
        XCTAssertEqual(span.traceID, identity.traceID)
    }

    func testAClientSpanTakesTheParentTheLinkerFound() {
        let child = SpanIdentity(traceID: identity.traceID, spanID: SpanID(0x99), parentSpanID: SpanID(0x1234))
        let span = Fixtures.builder().span(for: Fixtures.exchange(role: .client), identity: child)
        XCTAssertEqual(span.parentSpanID, SpanID(0x1234))
        XCTAssertEqual(span.spanID, SpanID(0x99))
        XCTAssertEqual(span.flags, 0x101, "a parent in this process: not remote")
    }

    /// A server span's id is fixed at its read (calls made while serving it name it).
    func testAServerSpanTakesTheIdentitysIdAndTraceWithoutAHeader() {
        let span = Fixtures.builder().span(for: Fixtures.exchange(role: .server), identity: identity)
        XCTAssertEqual(span.spanID, identity.spanID)
        XCTAssertEqual(span.traceID, identity.traceID)
        XCTAssertNil(span.parentSpanID)
    }

    func testAServerSpanWithAHeaderKeepsTheHeadersTraceAndParent() {
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let span = Fixtures.builder().span(for: Fixtures.exchange(role: .server, headers: [("traceparent", header)]),
                                           identity: identity)
        XCTAssertEqual(span.spanID, identity.spanID)
        XCTAssertEqual(span.traceID.description, "0af7651916cd43dd8448eb211c80319c")
        XCTAssertEqual(span.parentSpanID, SpanID(0xb7ad6b7169203331))
        XCTAssertEqual(span.flags, 0x301)
    }
}
