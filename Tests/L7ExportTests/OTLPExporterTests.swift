import Foundation
import L7Export
import L7Spans
import XCTest

/// The OTLP/HTTP exporter against the Python test receiver (a real HTTP
/// server decoding with the official opentelemetry-proto package).
final class OTLPExporterTests: XCTestCase {
    private let batches = [
        ResourceBatch(resource: Samples.resource(pid: 10, service: "nginx"), spans: [Samples.span(pid: 10, id: 1)]),
        ResourceBatch(resource: Samples.resource(pid: 20, service: "curl"), spans: [Samples.span(pid: 20, id: 2, kind: .client)]),
    ]

    /// A loopback port that refuses connections: a receiver's, once it has stopped.
    private func closedPort() throws -> Int {
        let receiver = try ReceiverProcess()
        receiver.stop()
        return receiver.port
    }

    func testSpansArriveWithTheirResourcesAndHeaders() throws {
        let receiver = try ReceiverProcess()
        defer { receiver.stop() }
        let exporter = try OTLPExporter(url: receiver.tracesURL, headers: [OTLPHeader(name: "x-api-key", value: "s3cret")],
                                            timeout: 5, logger: CapturedLog().logger())
        defer { exporter.shutdown() }

        XCTAssertEqual(exporter.export(batches), .success)
        XCTAssertEqual(exporter.export(batches), .success)
        let spans = receiver.waitForSpans(4)
        XCTAssertEqual(spans.count, 4)
        let first = spans[0]
        XCTAssertEqual((first["resource"] as? [String: Any])?["service.name"] as? String, "nginx")
        XCTAssertEqual((first["scope"] as? [String: Any])?["name"] as? String, "l7trace")
        XCTAssertEqual(first["trace_id"] as? String, "4bf92f3577b34da6a3ce929d0e0e4736")
        XCTAssertEqual(first["span_id"] as? String, "0000000000000001")
        XCTAssertEqual(first["kind"] as? Int, 2)
        XCTAssertEqual((first["attributes"] as? [String: Any])?["http.response.status_code"] as? Int, 200)
        XCTAssertEqual((spans[1]["resource"] as? [String: Any])?["service.name"] as? String, "curl")

        let requests = receiver.requests()
        XCTAssertEqual(requests.count, 2)
        let headers = try XCTUnwrap(requests[0]["headers"] as? [String: String])
        XCTAssertEqual(headers["Content-Type"], "application/x-protobuf")
        XCTAssertEqual(headers["x-api-key"], "s3cret")
        XCTAssertTrue(headers["User-Agent"]?.hasPrefix("OTel-OTLP-Exporter-Swift/\(L7TraceVersion.current)") == true,
                      headers["User-Agent"] ?? "no User-Agent")
        XCTAssertNil(headers["Expect"])
        XCTAssertEqual(requests[0]["client_port"] as? Int, requests[1]["client_port"] as? Int,
                       "the second batch reuses the first connection")
    }

    func testACollectorThatIsDownIsARetryableFailure() throws {
        let port = try closedPort()
        let exporter = try OTLPExporter(url: "http://127.0.0.1:\(port)/v1/traces", timeout: 2, logger: CapturedLog().logger())
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches),
                       .retryableFailure("cannot export to http://127.0.0.1:\(port)/v1/traces: connection refused"))
    }

    func testOverloadStatusesAreRetryable() throws {
        let receiver = try ReceiverProcess(status: 503)
        defer { receiver.stop() }
        let exporter = try OTLPExporter(url: receiver.tracesURL, timeout: 5, logger: CapturedLog().logger())
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches),
                       .retryableFailure("cannot export to \(receiver.tracesURL): HTTP 503: refused by the test receiver"))
    }

    func testABadRequestIsPermanentWithTheCollectorsMessage() throws {
        let receiver = try ReceiverProcess(status: 400)
        defer { receiver.stop() }
        let exporter = try OTLPExporter(url: receiver.tracesURL, timeout: 5, logger: CapturedLog().logger())
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches),
                       .permanentFailure("cannot export to \(receiver.tracesURL): HTTP 400: refused by the test receiver"))
    }

    func testPartialSuccessIsSuccessAndLogged() throws {
        let receiver = try ReceiverProcess(rejected: 1)
        defer { receiver.stop() }
        let log = CapturedLog()
        let exporter = try OTLPExporter(url: receiver.tracesURL, timeout: 5, logger: log.logger())
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches), .success)
        XCTAssertEqual(log.messages, ["warning l7trace: the collector at \(receiver.tracesURL) rejected 1 spans: refused by the test receiver"])
    }

    func testAWrongPathIsPermanent() throws {
        let receiver = try ReceiverProcess()
        defer { receiver.stop() }
        let exporter = try OTLPExporter(url: "http://127.0.0.1:\(receiver.port)/elsewhere", timeout: 5,
                                            logger: CapturedLog().logger())
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches),
                       .permanentFailure("cannot export to http://127.0.0.1:\(receiver.port)/elsewhere: HTTP 404: not found"))
    }

    // MARK: Through the batch processor, as the tracer runs it

    func testSpansQueuedWhileTheCollectorIsDownArriveOnceItIsBack() throws {
        let port = try closedPort()
        let log = CapturedLog()
        var configuration = BatchConfiguration()
        configuration.scheduleDelay = 0.3
        configuration.retryInitialBackoff = 0.3
        let exporter = try OTLPExporter(url: "http://127.0.0.1:\(port)/v1/traces", timeout: 2, logger: log.logger())
        let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
        defer { processor.shutdown(timeout: 5) }

        processor.add(Samples.span(id: 1), resource: Samples.resource())
        processor.add(Samples.span(id: 2), resource: Samples.resource())
        XCTAssertTrue(eventually { processor.counters.exportFailures >= 1 })
        XCTAssertEqual(log.messages(containing: "l7trace: cannot export to http://127.0.0.1:\(port)/v1/traces: "
            + "connection refused; 2 spans are queued for a retry in 0.").count, 1, "\(log.messages)")

        let receiver = try ReceiverProcess(port: port)
        defer { receiver.stop() }
        XCTAssertEqual(receiver.waitForSpans(2).compactMap { $0["span_id"] as? String }.sorted(),
                       ["0000000000000001", "0000000000000002"])
        XCTAssertTrue(eventually { processor.counters.spansExported == 2 })
        XCTAssertEqual(processor.counters.spansDropped, 0)
    }

    func testARefusedBatchIsDroppedWithOneLogLine() throws {
        let receiver = try ReceiverProcess(status: 400)
        defer { receiver.stop() }
        let log = CapturedLog()
        var configuration = BatchConfiguration()
        configuration.scheduleDelay = 0.1
        let exporter = try OTLPExporter(url: receiver.tracesURL, timeout: 5, logger: log.logger())
        let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
        processor.add(Samples.span(id: 1), resource: Samples.resource())
        XCTAssertTrue(eventually { processor.counters.spansDroppedExportFailed == 1 })
        processor.add(Samples.span(id: 2), resource: Samples.resource())
        XCTAssertTrue(eventually { processor.counters.spansDroppedExportFailed == 2 })
        processor.shutdown(timeout: 5)
        let failures = log.messages(containing: "HTTP 400")
        XCTAssertEqual(failures, ["warning l7trace: cannot export to \(receiver.tracesURL): HTTP 400: refused by the test receiver; "
            + "1 spans were dropped"], "one line per warning interval")
        XCTAssertEqual(receiver.requests().count, 2)
    }
}
