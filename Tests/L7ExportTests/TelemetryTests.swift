import Foundation
import L7Export
import XCTest

/// The self-telemetry line and the Prometheus endpoint.
final class TelemetryTests: XCTestCase {
    private func snapshot(exported: UInt64, queueFull: UInt64 = 0) -> TelemetrySnapshot {
        var snapshot = TelemetrySnapshot()
        snapshot.eventsReceived = 120
        snapshot.eventsLost = 2
        snapshot.bytesLost = 4096
        snapshot.exchanges = [.init(protocolName: "http1", count: 40), .init(protocolName: "http2", count: 0)]
        snapshot.parseErrors = [.init(protocolName: "http1", reason: "malformed", count: 1)]
        snapshot.export.spansExported = exported
        snapshot.export.spansDroppedQueueFull = queueFull
        snapshot.export.exportFailures = 3
        snapshot.export.queueDepth = 7
        return snapshot
    }

    func testTheLogLineSaysEverythingOnOneLine() {
        XCTAssertEqual(snapshot(exported: 38, queueFull: 2).logLine,
                       "l7trace: stats: events 120, lost 2 events (4096 bytes); exchanges http1 40; parse errors http1/malformed 1; "
                       + "exchanges lost 0; "
                       + "spans exported 38, dropped 2 (queue full 2, export failed 0, at shutdown 0); export failures 3; queued 7")
    }

    func testSpanLinksAreInTheLineAndTheExpositionByOutcome() {
        var linked = snapshot(exported: 1)
        linked.spanLinks = [.init(protocolName: "", reason: "linked", count: 5),
                            .init(protocolName: "", reason: "hold_expired", count: 0)]
        XCTAssertTrue(linked.logLine.contains("; span links linked 5; spans exported 1"), linked.logLine)
        XCTAssertFalse(snapshot(exported: 1).logLine.contains("span links"))
        let text = String(decoding: PrometheusTelemetry().exposition(for: linked), as: UTF8.self)
        XCTAssertTrue(text.contains("l7trace_span_links_total{outcome=\"linked\"} 5"), text)
    }

    func testUnreadableTLSConnectionsAreInTheLineAndTheExposition() {
        var unreadable = snapshot(exported: 1)
        unreadable.tlsConnectionsUnreadable = 2
        XCTAssertTrue(unreadable.logLine.contains("; unreadable TLS connections 2; spans exported 1"), unreadable.logLine)
        XCTAssertFalse(snapshot(exported: 1).logLine.contains("unreadable"))
        let text = String(decoding: PrometheusTelemetry().exposition(for: unreadable), as: UTF8.self)
        XCTAssertTrue(text.contains("l7trace_tls_connections_unreadable_total 2"), text)
    }

    /// The body a plain HTTP/1.0 client gets from the endpoint; throws on a
    /// non-200 answer. A socket, not a curl child process: Foundation's
    /// Process/Pipe on Linux now and then hands back an empty output.
    private func scrape(_ port: UInt16, path: String = "/metrics") throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ExportConfigurationError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ExportConfigurationError("connect failed") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: buffer[..<count])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.0 200"), let bodyStart = text.range(of: "\r\n\r\n") else {
            throw ExportConfigurationError("not a 200 answer: \(text.prefix(80))")
        }
        return String(text[bodyStart.upperBound...])
    }

    func testTheEndpointServesCountersThatFollowTheSnapshots() throws {
        let telemetry = PrometheusTelemetry()
        let current = Locked(snapshot(exported: 10))
        let server = try MetricsServer(address: "127.0.0.1", port: 0) {
            telemetry.exposition(for: current.value)
        }
        defer { server.stop() }
        XCTAssertNotEqual(server.port, 0)

        var text = try scrape(server.port)
        XCTAssertTrue(text.contains("# TYPE l7trace_spans_exported_total counter"), text)
        XCTAssertTrue(text.contains("l7trace_spans_exported_total 10"), text)
        XCTAssertTrue(text.contains(#"l7trace_exchanges_total{protocol="http1"} 40"#), text)
        XCTAssertTrue(text.contains(#"l7trace_parse_errors_total{protocol="http1",reason="malformed"} 1"#), text)
        XCTAssertTrue(text.contains(#"l7trace_spans_dropped_total{cause="queue_full"} 0"#), text)
        XCTAssertTrue(text.contains("l7trace_events_lost_total 2"), text)
        XCTAssertTrue(text.contains("l7trace_bytes_lost_total 4096"), text)
        XCTAssertTrue(text.contains("l7trace_export_queue_spans 7"), text)

        current.update { $0 = self.snapshot(exported: 25, queueFull: 4) }
        text = try scrape(server.port)
        XCTAssertTrue(text.contains("l7trace_spans_exported_total 25"), text)
        XCTAssertTrue(text.contains(#"l7trace_spans_dropped_total{cause="queue_full"} 4"#), text)
        XCTAssertThrowsError(try scrape(server.port, path: "/other"))
    }

    func testChunkedBodiesOfUnknownSizeAreCountedInTheLogLineAndTheMetrics() throws {
        var current = snapshot(exported: 38)
        current.bodySizesUnknown = 5
        XCTAssertTrue(current.logLine.contains("; body sizes unknown 5; spans exported 38"), current.logLine)
        let text = String(decoding: PrometheusTelemetry().exposition(for: current), as: UTF8.self)
        XCTAssertTrue(text.contains("l7trace_body_sizes_unknown_total 5"), text)
    }

    func testAStoppedServerNeverAnswersForTheNextOne() throws {
        // stop() used to close the listener while the serving thread could
        // still call accept() on its number; a new server reusing that
        // number then had its scrapes answered by the stopped one.
        for round in 0..<100 {
            let old = try MetricsServer(address: "127.0.0.1", port: 0) { Array("old\n".utf8) }
            old.stop()
            let new = try MetricsServer(address: "127.0.0.1", port: 0) { Array("new \(round)\n".utf8) }
            defer { new.stop() }
            XCTAssertEqual(try scrape(new.port), "new \(round)\n")
        }
    }

    func testABusyPortIsOneClearLine() throws {
        let first = try MetricsServer(address: "127.0.0.1", port: 0) { [] }
        defer { first.stop() }
        XCTAssertThrowsError(try MetricsServer(address: "127.0.0.1", port: first.port) { [] }) { error in
            XCTAssertEqual("\(error)", "l7trace: cannot serve metrics on 127.0.0.1 port \(first.port): Address already in use; choose another --metrics-port")
        }
        XCTAssertThrowsError(try MetricsServer(address: "localhost", port: 0) { [] }) { error in
            XCTAssertTrue("\(error)".contains("--metrics-address localhost is not an IP address"), "\(error)")
        }
    }
}
