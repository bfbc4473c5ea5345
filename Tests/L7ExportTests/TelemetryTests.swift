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
                       + "spans exported 38, dropped 2 (queue full 2, export failed 0, at shutdown 0); export failures 3; queued 7")
    }

    /// What `curl` gets from the endpoint; throws on a non-200 answer.
    private func scrape(_ port: UInt16, path: String = "/metrics") throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sSf", "--noproxy", "*", "--max-time", "10", "http://127.0.0.1:\(port)\(path)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw XCTSkip("curl is not installed") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ExportConfigurationError("curl exited \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    func testTheEndpointServesCountersThatFollowTheSnapshots() throws {
        let telemetry = PrometheusTelemetry()
        var current = snapshot(exported: 10)
        let lock = NSLock()
        let server = try MetricsServer(address: "127.0.0.1", port: 0) {
            lock.lock(); defer { lock.unlock() }
            return telemetry.exposition(for: current)
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

        lock.lock(); current = snapshot(exported: 25, queueFull: 4); lock.unlock()
        text = try scrape(server.port)
        XCTAssertTrue(text.contains("l7trace_spans_exported_total 25"), text)
        XCTAssertTrue(text.contains(#"l7trace_spans_dropped_total{cause="queue_full"} 4"#), text)
        XCTAssertThrowsError(try scrape(server.port, path: "/other"))
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
