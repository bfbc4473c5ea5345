import L7Events
import XCTest
@testable import L7Protocols

/// Hostile input, seeded so that a failure repeats: the tracker must not
/// crash, loop, or hold more memory than its limits allow.
final class FuzzTests: XCTestCase {
    private let limits = TrackerLimits(maxConnections: 8, maxHeadBytes: 4096, maxLineBytes: 1024,
                                       maxPendingRequests: 16, detectionScanBytes: 8192)

    private let seeds: [String] = [
        "GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
        "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        "HTTP/1.0 200 OK\r\n\r\nclose-delimited",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ]

    func testRandomBytesRandomSplitsAndHoles() {
        var rng = SeededGenerator(seed: 0x5EED)
        let h = TrackerHarness(limits: limits)
        for _ in 0..<3000 {
            let key = TrackerHarness.key(UInt64.random(in: 0..<12, using: &rng), pid: UInt32.random(in: 1...2, using: &rng))
            switch UInt8.random(in: 0..<100, using: &rng) {
            case 0..<5:
                h.open(key, role: [.client, .server, .unknown].randomElement(using: &rng)!)
            case 5..<8:
                h.close(key)
            case 8:
                h.exit(pid: key.tgid)
            default:
                let bytes = (0..<Int.random(in: 0..<600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let hole = Bool.random(using: &rng) ? 0 : Int.random(in: 0..<100_000, using: &rng)
                h.call(key, Bool.random(using: &rng) ? .egress : .ingress, bytes, hole: hole,
                       source: UInt8.random(in: 0..<10, using: &rng) == 0 ? .ssl : .syscall)
            }
            assertBounded(h)
        }
        h.flush()
        XCTAssertEqual(h.exchanges.count, h.stats.exchanges)
    }

    func testMutatedHTTPStreamsCutAnywhere() {
        var rng = SeededGenerator(seed: 0xC0FFEE)
        let h = TrackerHarness(limits: limits)
        for round in 0..<2000 {
            let key = TrackerHarness.key(UInt64(round))
            h.open(key, role: Bool.random(using: &rng) ? .client : .server)
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                var message = seeds.randomElement(using: &rng)!.bytes
                mutate(&message, using: &rng)
                let direction: Direction = Bool.random(using: &rng) ? .egress : .ingress
                var start = 0
                while start < message.count {
                    let end = min(message.count, start + Int.random(in: 1...40, using: &rng))
                    let hole = UInt8.random(in: 0..<20, using: &rng) == 0 ? Int.random(in: 1...5000, using: &rng) : 0
                    h.call(key, direction, Array(message[start..<end]), hole: hole)
                    start = end
                }
            }
            assertBounded(h)
            if Bool.random(using: &rng) { h.close(key) }
        }
        h.flush()
        XCTAssertEqual(h.exchanges.count, h.stats.exchanges)
        XCTAssertGreaterThan(h.stats.exchanges, 0, "some exchanges survive light mutation")
    }

    func testEndlessHeadAndEndlessChunkLineStayBounded() {
        let h = TrackerHarness(limits: limits)
        let key = TrackerHarness.key(1)
        h.open(key, role: .server)
        h.call(key, .ingress, "GET / HTTP/1.1\r\nX: ")
        for _ in 0..<200 { h.call(key, .ingress, String(repeating: "y", count: 1000)); assertBounded(h) }
        h.call(key, .ingress, "\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1")
        for _ in 0..<200 { h.call(key, .ingress, String(repeating: "0", count: 1000)); assertBounded(h) }
        h.call(key, .ingress, "GET /", hole: 0)
        for _ in 0..<200 { h.call(key, .ingress, String(repeating: "z", count: 1000)); assertBounded(h) }
        XCTAssertEqual(h.stats.oversizedHeads, 1)
        XCTAssertGreaterThanOrEqual(h.stats.malformedMessages, 1)
    }

    private func mutate(_ message: inout [UInt8], using rng: inout SeededGenerator) {
        for _ in 0..<Int.random(in: 0...2, using: &rng) where !message.isEmpty {
            let i = Int.random(in: 0..<message.count, using: &rng)
            switch UInt8.random(in: 0..<4, using: &rng) {
            case 0: message[i] = UInt8.random(in: 0...255, using: &rng)
            case 1: message.insert(contentsOf: "\r\n".bytes, at: i)
            case 2: message.removeSubrange(i..<min(message.count, i + Int.random(in: 1...8, using: &rng)))
            default: message.insert(contentsOf: [UInt8](repeating: 0x41, count: 50), at: i)
            }
        }
    }

    private func assertBounded(_ h: TrackerHarness, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(h.tracker.trackedConnections, limits.maxConnections, file: file, line: line)
        XCTAssertLessThanOrEqual(h.tracker.bufferedBytes, limits.maxConnections * 2 * limits.maxHeadBytes,
                                 file: file, line: line)
        XCTAssertLessThanOrEqual(h.tracker.maxBufferedBytesPerDirection, limits.maxHeadBytes, file: file, line: line)
    }
}
