import XCTest
@testable import L7Protocols

/// The span builder skips its lookups of Host, User-Agent, trace context and
/// forwarding fields when the headers say none came: that note must never
/// miss a field, whatever its case or however it arrived.
final class HTTPHeadersTests: XCTestCase {
    func testNotableFieldsAreNotedInAnyCase() {
        var headers = HTTPHeaders()
        for name in ["HOST", "User-Agent", "TraceParent", "tracestate", "Forwarded", "X-FORWARDED-FOR", ":authority"] {
            headers.append(name: name, value: "v")
        }
        XCTAssertEqual(headers.notable, [.host, .userAgent, .traceparent, .tracestate, .forwarding, .authority])
    }

    func testLookAlikeNamesAreNotNoted() {
        var headers = HTTPHeaders()
        for name in ["Hosts", "Hos", "User-Agents", "traceparentx", "X-Forwarded", "Forwarded-For", "x-forwardedfor", "authority"] {
            headers.append(name: name, value: "v")
        }
        XCTAssertEqual(headers.notable, [])
    }

    func testAnHTTP1RequestNotesTheFieldsItCarries() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        h.call(key, .ingress, "GET / HTTP/1.1\r\nhost: a\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\n\r\n")
        h.call(key, .egress, "HTTP/1.1 204 No Content\r\n\r\n")
        XCTAssertEqual(h.exchanges.first?.request.headers.notable, [.host, .forwarding])
    }
}
