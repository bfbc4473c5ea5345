import Foundation
import L7Export
import L7Spans
import XCTest

/// OTLP/gRPC, TLS, gzip and retries against the Python test receiver: a
/// grpcio server with the official TraceServiceServicer, or the HTTP one.
final class OTLPTransportTests: XCTestCase {
    private let batches = [
        ResourceBatch(resource: Samples.resource(pid: 10, service: "nginx"), spans: [Samples.span(pid: 10, id: 1)]),
        ResourceBatch(resource: Samples.resource(pid: 20, service: "curl"), spans: [Samples.span(pid: 20, id: 2, kind: .client)]),
    ]

    private func exporter(_ receiver: ReceiverProcess, gzip: Bool = false, headers: [OTLPHeader] = [],
                          ca: String? = nil, log: CapturedLog = CapturedLog()) throws -> OTLPExporter {
        try OTLPExporter(settings: OTLPExporter.Settings(
            transport: receiver.grpc ? .grpc : .httpProtobuf, url: receiver.tracesURL, headers: headers, timeout: 5,
            gzip: gzip, tls: TLSFiles(certificateAuthority: ca)), logger: log.logger())
    }

    private func spanIDs(_ spans: [[String: Any]]) -> [String] {
        spans.compactMap { $0["span_id"] as? String }.sorted()
    }

    // MARK: Both protocols: every span, the auth header, gzip

    func testGRPCDeliversEverySpanWithHeadersAndGzip() throws {
        let receiver = try ReceiverProcess(grpc: true)
        defer { receiver.stop() }
        let exporter = try exporter(receiver, gzip: true, headers: [OTLPHeader(name: "authorization", value: "Bearer t0ken")])
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches), .success)
        XCTAssertEqual(exporter.export(batches), .success)
        let spans = receiver.waitForSpans(4)
        XCTAssertEqual(spanIDs(spans), ["0000000000000001", "0000000000000001", "0000000000000002", "0000000000000002"])
        XCTAssertEqual((spans[0]["resource"] as? [String: Any])?["service.name"] as? String, "nginx")
        XCTAssertEqual(spans[0]["trace_id"] as? String, "4bf92f3577b34da6a3ce929d0e0e4736")
        let requests = receiver.requests()
        XCTAssertEqual(requests.count, 2)
        let headers = try XCTUnwrap(requests[0]["headers"] as? [String: String])
        XCTAssertEqual(headers["authorization"], "Bearer t0ken")
        XCTAssertTrue(headers["user-agent"]?.hasPrefix("OTel-OTLP-Exporter-Swift/") == true, "\(headers)")
        XCTAssertEqual(requests.compactMap { $0["compressed"] as? Bool }, [true, true], "messages went gzip-compressed")
    }

    func testGRPCWithoutGzipSendsPlainMessages() throws {
        let receiver = try ReceiverProcess(grpc: true)
        defer { receiver.stop() }
        let exporter = try exporter(receiver)
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches), .success)
        XCTAssertEqual(receiver.requests().first?["compressed"] as? Bool, false)
        XCTAssertEqual(receiver.waitForSpans(2).count, 2)
    }

    func testHTTPDeliversGzipBodiesWithTheAuthHeader() throws {
        let receiver = try ReceiverProcess()
        defer { receiver.stop() }
        let exporter = try exporter(receiver, gzip: true, headers: [OTLPHeader(name: "x-api-key", value: "s3cret")])
        defer { exporter.shutdown() }
        XCTAssertEqual(exporter.export(batches), .success)
        XCTAssertEqual(spanIDs(receiver.waitForSpans(2)), ["0000000000000001", "0000000000000002"])
        let headers = try XCTUnwrap(receiver.requests().first?["headers"] as? [String: String])
        XCTAssertEqual(headers["Content-Encoding"], "gzip")
        XCTAssertEqual(headers["x-api-key"], "s3cret")
    }

    // MARK: TLS with the collector's self-signed CA

    func testTLSWithTheCollectorsCertificateAuthority() throws {
        let certificate = try TestCertificate()
        for grpc in [false, true] {
            let receiver = try ReceiverProcess(grpc: grpc, tls: certificate)
            defer { receiver.stop() }
            XCTAssertTrue(receiver.tracesURL.hasPrefix("https://"))
            let exporter = try exporter(receiver, ca: certificate.certificate)
            defer { exporter.shutdown() }
            XCTAssertEqual(exporter.export(batches), .success, "grpc: \(grpc)")
            XCTAssertEqual(receiver.waitForSpans(2).count, 2, "grpc: \(grpc)")
        }
    }

    func testTLSWithoutTheCertificateAuthorityIsRefusedForGood() throws {
        let certificate = try TestCertificate()
        let receiver = try ReceiverProcess(tls: certificate)
        defer { receiver.stop() }
        let exporter = try exporter(receiver)
        defer { exporter.shutdown() }
        guard case .permanentFailure(let reason) = exporter.export(batches) else { return XCTFail("a self-signed certificate was trusted") }
        XCTAssertTrue(reason.hasPrefix("cannot export to \(receiver.tracesURL): "), reason)
        XCTAssertTrue(reason.lowercased().contains("certificate"), reason)
    }

    // MARK: Retry and refusal, through the batch processor

    private func processor(_ exporter: OTLPExporter, log: CapturedLog, backoff: Double = 0.2) -> BatchSpanProcessor {
        var configuration = BatchConfiguration()
        configuration.scheduleDelay = 0.1
        configuration.retryInitialBackoff = backoff
        configuration.warningInterval = 60
        return BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
    }

    func testA503WithRetryAfterIsRetriedAfterTheDelay() throws {
        let receiver = try ReceiverProcess(status: 503, retryAfter: 2, failFirst: 1)
        defer { receiver.stop() }
        let log = CapturedLog()
        let processor = processor(try exporter(receiver, log: log), log: log, backoff: 0.05)
        defer { processor.shutdown(timeout: 5) }
        processor.add(Samples.span(id: 1), resource: Samples.resource())
        XCTAssertEqual(spanIDs(receiver.waitForSpans(1, timeout: 15)), ["0000000000000001"])
        let times = receiver.requests().compactMap { $0["time"] as? Double }
        XCTAssertEqual(times.count, 2)
        XCTAssertGreaterThanOrEqual(times[1] - times[0], 1.9, "the second try waited for Retry-After")
        XCTAssertEqual(log.messages(containing: "HTTP 503: refused by the test receiver; 1 spans are queued for a retry in 2s (as the collector asked)").count, 1,
                       "\(log.messages)")
    }

    func testGRPCResourceExhaustedWithRetryInfoIsRetriedAfterItsDelay() throws {
        let receiver = try ReceiverProcess(grpc: true, status: 8, retryAfter: 1.5, failFirst: 1)
        defer { receiver.stop() }
        let log = CapturedLog()
        let processor = processor(try exporter(receiver, log: log), log: log, backoff: 0.05)
        defer { processor.shutdown(timeout: 5) }
        processor.add(Samples.span(id: 1), resource: Samples.resource())
        XCTAssertEqual(receiver.waitForSpans(1, timeout: 15).count, 1)
        let times = receiver.requests().compactMap { $0["time"] as? Double }
        XCTAssertEqual(times.count, 2)
        XCTAssertGreaterThanOrEqual(times[1] - times[0], 1.4)
        XCTAssertEqual(log.messages(containing: "gRPC RESOURCE_EXHAUSTED: refused by the test receiver; 1 spans are queued for a retry in 1.5s").count, 1,
                       "\(log.messages)")
    }

    func testA400IsDroppedNotRetriedWithOneLogLine() throws {
        for grpc in [false, true] {
            let receiver = try ReceiverProcess(grpc: grpc, status: grpc ? 3 : 400)
            defer { receiver.stop() }
            let log = CapturedLog()
            let processor = processor(try exporter(receiver, log: log), log: log)
            processor.add(Samples.span(id: 1), resource: Samples.resource())
            XCTAssertTrue(eventually { processor.counters.spansDroppedExportFailed == 1 })
            Thread.sleep(forTimeInterval: 0.5)
            processor.shutdown(timeout: 5)
            XCTAssertEqual(receiver.requests().count, 1, "not retried (grpc: \(grpc))")
            let expected = grpc ? "gRPC INVALID_ARGUMENT: refused by the test receiver; 1 spans were dropped"
                : "HTTP 400: refused by the test receiver; 1 spans were dropped"
            XCTAssertEqual(log.messages(containing: "cannot export").count, 1, "\(log.messages)")
            XCTAssertEqual(log.messages(containing: expected).count, 1, "\(log.messages)")
            XCTAssertEqual(processor.counters.exportFailures, 1)
        }
    }

    func testAGRPCCollectorDownAtStartGetsEverySpanOnceItIsUp() throws {
        let port = try ReceiverProcess(grpc: true).closedPort()
        let log = CapturedLog()
        let url = "http://127.0.0.1:\(port)/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        let exporter = try OTLPExporter(settings: .init(transport: .grpc, url: url, timeout: 2), logger: log.logger())
        var configuration = BatchConfiguration()
        configuration.scheduleDelay = 0.1
        configuration.retryInitialBackoff = 0.1
        configuration.retryMaxBackoff = 0.5
        configuration.maxQueueSize = 20
        configuration.maxExportBatchSize = 8
        let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
        defer { processor.shutdown(timeout: 5) }

        for id in 1...30 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        XCTAssertTrue(eventually { processor.counters.exportFailures >= 2 })
        XCTAssertEqual(processor.counters.spansDroppedQueueFull, 10, "beyond the queue bound of 20")

        let receiver = try ReceiverProcess(port: port, grpc: true)
        defer { receiver.stop() }
        XCTAssertTrue(eventually(timeout: 15) { processor.counters.spansExported == 20 })
        Thread.sleep(forTimeInterval: 0.3)
        let ids = receiver.spans().compactMap { $0["span_id"] as? String }
        XCTAssertEqual(ids.count, 20, "each span exactly once")
        XCTAssertEqual(Set(ids), Set((1...20).map { String(format: "%016x", $0) }), "the first 20, the ones the queue kept")
        XCTAssertEqual(processor.counters.spansDroppedExportFailed, 0)
    }
}

extension ReceiverProcess {
    /// Stops the receiver and returns its port, which now refuses connections.
    func closedPort() -> Int {
        stop()
        return port
    }
}
