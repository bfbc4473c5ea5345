import L7Events
@testable import L7Protocols
import XCTest

/// A socket reached by several fds or processes is one connection: a
/// forking server's parent accepts it and closes its copy, its child reads
/// the request on fd 0 and writes the response on fd 1 (busybox httpd,
/// inetd). The kernel gives every fd of a socket the same connection id.
final class SharedSocketTests: XCTestCase {
    private let parent: UInt32 = 100, child: UInt32 = 101
    private let request = "GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    private let response = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"

    func testChildServingOnTwoFdsWhatItsParentAcceptedGivesOneExchangeOfTheChild() {
        let h = TrackerHarness()
        h.open(TrackerHarness.key(1, pid: parent), role: .server, fd: 4)
        // The parent closes its copy first (the usual order after fork): nothing was said yet.
        h.close(TrackerHarness.key(1, pid: parent), fd: 4, shared: true)
        h.open(TrackerHarness.key(1, pid: child), role: .unknown, fd: 0)
        let read = h.call(TrackerHarness.key(1, pid: child), .ingress, request.bytes, fd: 0)
        h.open(TrackerHarness.key(1, pid: child), role: .unknown, fd: 1)
        let write = h.call(TrackerHarness.key(1, pid: child), .egress, response.bytes, fd: 1)
        h.exit(pid: child)

        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/f.txt", 200, responseBody: 6)])
        let exchange = h.exchanges[0]
        XCTAssertEqual(exchange.connection.pid, child)
        XCTAssertEqual(exchange.connection.role, .server, "the role the parent's accept gave")
        XCTAssertEqual(exchange.requestTiming.firstExitNs, read.exit)
        XCTAssertEqual(exchange.responseTiming?.lastExitNs, write.exit)
        XCTAssertEqual(h.tracker.trackedConnections, 0)
    }

    func testParentClosingItsCopyAfterTheChildStartedEndsNothing() {
        let h = TrackerHarness()
        h.open(TrackerHarness.key(1, pid: parent), role: .server, fd: 4)
        h.open(TrackerHarness.key(1, pid: child), role: .unknown, fd: 0)
        h.call(TrackerHarness.key(1, pid: child), .ingress, request, fd: 0)
        h.close(TrackerHarness.key(1, pid: parent), fd: 4, shared: true)
        XCTAssertEqual(h.exchanges.count, 0, "the child still holds the socket: its request is not flushed")
        h.exit(pid: parent)
        XCTAssertEqual(h.exchanges.count, 0, "nor when the parent exits")
        h.call(TrackerHarness.key(1, pid: child), .egress, response, fd: 1)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/f.txt", 200, responseBody: 6)])
        XCTAssertEqual(h.exchanges[0].connection.pid, child)
    }

    func testClosingOneOfTwoFdsOfAProcessEndsNothingTheLastCloseEndsIt() {
        let h = TrackerHarness()
        let key = TrackerHarness.key(1, pid: child)
        h.open(key, role: .server, fd: 0)
        h.open(key, role: .unknown, fd: 1)
        h.call(key, .ingress, request, fd: 0)
        h.close(key, fd: 0, shared: true)
        XCTAssertEqual(h.exchanges.count, 0)
        h.call(key, .egress, "HTTP/1.1 200 OK\r\n\r\nhello\n", fd: 1) // delimited by the close
        XCTAssertEqual(h.exchanges.count, 0)
        h.close(key, fd: 1)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/f.txt", 200, responseBody: 6)])
    }

    func testSharedCloseByTheOnlyKnownHolderAfterBytesEndsTheConnection() {
        // An unrelated child inherited the fd (no CLOEXEC) and never uses it:
        // the server's close is a shared one, and must still end its connection.
        let h = TrackerHarness()
        let key = TrackerHarness.key(1, pid: parent)
        h.open(key, role: .server, fd: 4)
        h.call(key, .ingress, request, fd: 4)
        h.call(key, .egress, "HTTP/1.0 200 OK\r\n\r\nhello\n", fd: 4)
        h.close(key, fd: 4, shared: true)
        XCTAssertEqual(h.exchanges.summaries, [ExchangeSummary("GET", "/f.txt", 200, responseBody: 6)])
        XCTAssertEqual(h.tracker.trackedConnections, 0)
    }

    func testAVerdictIsToldAgainForEachNewFdOfTheSocket() {
        let h = TrackerHarness(limits: TrackerLimits(detectionScanBytes: 64))
        let key = TrackerHarness.key(1, pid: parent)
        h.open(key, role: .server, fd: 4)
        h.call(key, .ingress, [UInt8](repeating: 0x01, count: 200), fd: 4)
        XCTAssertEqual(h.ignored.map(\.1), [4])
        h.call(TrackerHarness.key(1, pid: child), .ingress, [UInt8](repeating: 0x01, count: 10), fd: 0)
        XCTAssertEqual(h.ignored.map(\.1), [4, 0])
        XCTAssertEqual(h.ignored.last?.0.tgid, child)
    }

    func testHoldersCountFdsPerProcess() {
        var holders = ConnectionHolders()
        holders.add(1); holders.add(1); holders.add(2)
        holders.release(1)
        XCTAssertTrue(holders.contains(1))
        holders.release(1)
        XCTAssertFalse(holders.contains(1))
        XCTAssertFalse(holders.isEmpty)
        holders.noteUse(3)
        holders.remove(2)
        XCTAssertTrue(holders.contains(3))
        holders.release(3)
        XCTAssertTrue(holders.isEmpty)
    }
}
