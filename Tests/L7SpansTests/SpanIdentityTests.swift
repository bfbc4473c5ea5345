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

    func testAServerSpanIgnoresAnIdentity() {
        let span = Fixtures.builder().span(for: Fixtures.exchange(role: .server), identity: identity)
        XCTAssertNotEqual(span.spanID, identity.spanID)
        XCTAssertNotEqual(span.traceID, identity.traceID)
    }
}
