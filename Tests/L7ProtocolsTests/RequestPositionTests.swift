import L7Events
@testable import L7Protocols
import XCTest

/// What the linking stage is told: a client request's start (its position
/// on the connection) and every exchange's position, with whether both
/// ends can count it the same way.
final class RequestPositionTests: XCTestCase {
    private let get = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    private let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    func testClientKeepAliveRequestsStartInOrderAndExact() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        for _ in 0..<3 {
            h.call(key, .egress, get)
            h.call(key, .ingress, ok)
        }
        XCTAssertEqual(h.started.map(\.position), [.http1(sequence: 0, exact: true), .http1(sequence: 1, exact: true),
                                                   .http1(sequence: 2, exact: true)])
        XCTAssertEqual(h.exchanges.map(\.position), h.started.map(\.position))
        // The start comes with the head's timing: the write that carried it.
        XCTAssertEqual(h.started[0].timing.firstEnterNs, h.exchanges[0].requestTiming.firstEnterNs)
    }

    func testPipelinedRequestsEachGetTheirOwnPosition() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        h.call(key, .egress, get + get + get)
        h.call(key, .ingress, ok + ok + ok)
        XCTAssertEqual(h.started.map(\.position), (0..<3).map { RequestPosition.http1(sequence: $0, exact: true) })
        XCTAssertEqual(h.exchanges.map(\.position), h.started.map(\.position))
    }

    /// A server's starts tell the linker which thread read which request (rule 2).
    func testServerConnectionsReportStartsWithTheReadingThread() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        h.call(key, .ingress, get)
        h.call(key, .egress, ok)
        h.call(key, .ingress, "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: \(header)\r\n\r\n")
        h.call(key, .egress, ok)
        XCTAssertEqual(h.started.map(\.position), [.http1(sequence: 0, exact: true), .http1(sequence: 1, exact: true)])
        XCTAssertEqual(h.exchanges.map(\.position), h.started.map(\.position))
        XCTAssertEqual(h.started.map(\.connection.role), [.server, .server])
        XCTAssertEqual(h.started.map(\.timing.firstTid), [4242, 4242])
        XCTAssertEqual(h.started.map(\.traceparent), [nil, header])
        XCTAssertEqual(h.started[0].timing.firstExitNs, h.exchanges[0].requestTiming.firstExitNs)
    }

    /// Which thread read a request and which began its answer: what rule 2 checks.
    func testTimingsNameTheThreadOfTheirFirstCall() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        h.call(key, .ingress, "POST /t HTTP/1.1\r\nContent-Length: 2\r\n\r\n", tid: 7)
        h.call(key, .ingress, "ab", tid: 8)
        h.call(key, .egress, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", tid: 9)
        h.call(key, .egress, "ok", tid: 10)
        XCTAssertEqual(h.started.first?.timing.firstTid, 7)
        XCTAssertEqual(h.exchanges.first?.requestTiming.firstTid, 7)
        XCTAssertEqual(h.exchanges.first?.responseTiming?.firstTid, 9)
    }

    func testTraceparentTravelsWithTheStart() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        h.call(key, .egress, "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: \(header)\r\n\r\n")
        XCTAssertEqual(h.started.first?.traceparent, header)
    }

    func testAHoleOnTheRequestSideMakesLaterPositionsInexact() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        h.call(key, .ingress, get)
        h.call(key, .egress, ok)
        // A request whose tail the capture lost (a hole after its head).
        h.call(key, .ingress, "POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\n", hole: 10)
        h.call(key, .egress, ok)
        h.call(key, .ingress, get)
        h.call(key, .egress, ok)
        XCTAssertEqual(h.exchanges.map(\.position), [.http1(sequence: 0, exact: true), .http1(sequence: 1, exact: true),
                                                     .http1(sequence: 2, exact: false)])
    }

    func testAConnectionOlderThanTheTracerIsInexactFromTheStart() {
        let h = TrackerHarness()
        h.tracker.listeningPorts = [18080]
        let key = TrackerHarness.key(1)
        // No open record: the first data call names it (role from the listening port).
        h.open(key, role: .unknown)
        h.call(key, .ingress, get)
        h.call(key, .egress, ok)
        XCTAssertEqual(h.exchanges.map(\.position), [.http1(sequence: 0, exact: false)])
    }

    func testHTTP2StartsCarryTheirStreamsWhateverTheOrderOfAnswers() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .client)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        h.call(key, .egress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/a")), stream: 1, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/b", extra: [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])),
                            stream: 3, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/c")), stream: 5, endStream: true))
        h.call(key, .ingress, H2.settings()
               + H2.headers(dec.encode([(":status", "200")]), stream: 5, endStream: true)
               + H2.headers(dec.encode([(":status", "200")]), stream: 1, endStream: true)
               + H2.headers(dec.encode([(":status", "200")]), stream: 3, endStream: true))
        XCTAssertEqual(h.started.map(\.position), [.http2(stream: 1), .http2(stream: 3), .http2(stream: 5)])
        XCTAssertEqual(h.started.map(\.traceparent), [nil, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", nil])
        XCTAssertEqual(h.exchanges.map(\.request.target), ["/c", "/a", "/b"])
        XCTAssertEqual(h.exchanges.map(\.position), [.http2(stream: 5), .http2(stream: 1), .http2(stream: 3)])
    }

    func testHTTP2ServerStartsCarryTheirStreamAndReadingThread() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        let enc = HPACKEncoder(), dec = HPACKEncoder()
        h.call(key, .ingress, H2.preface + H2.settings()
               + H2.headers(enc.encode(H2.request("GET", "/a")), stream: 1, endStream: true)
               + H2.headers(enc.encode(H2.request("GET", "/b")), stream: 3, endStream: true), tid: 21)
        h.call(key, .egress, H2.settings()
               + H2.headers(dec.encode([(":status", "200")]), stream: 3, endStream: true)
               + H2.headers(dec.encode([(":status", "200")]), stream: 1, endStream: true), tid: 22)
        XCTAssertEqual(h.started.map(\.position), [.http2(stream: 1), .http2(stream: 3)])
        XCTAssertEqual(h.started.map(\.timing.firstTid), [21, 21])
        XCTAssertEqual(h.exchanges.map(\.responseTiming?.firstTid), [22, 22])
        // The responses (written by the server) start no request.
        XCTAssertEqual(h.started.count, 2)
    }
}
