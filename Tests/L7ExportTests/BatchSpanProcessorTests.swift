import Foundation
import L7Export
import L7Spans
import XCTest

/// Records what it is asked to export and answers from a script.
final class RecordingExporter: SpanExporter, @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [[ResourceBatch]] = []
    private var answers: [ExportResult]
    private(set) var isShutDown = false
    /// Blocks each export until signalled, when set.
    var gate: DispatchSemaphore?

    init(answers: [ExportResult] = []) { self.answers = answers }

    var exports: [[ResourceBatch]] { lock.lock(); defer { lock.unlock() }; return calls }
    var spanCount: Int { exports.reduce(0) { $0 + $1.reduce(0) { $0 + $1.spans.count } } }

    func export(_ batches: [ResourceBatch]) -> ExportResult {
        gate?.wait()
        lock.lock()
        defer { lock.unlock() }
        calls.append(batches)
        return answers.isEmpty ? .success : answers.removeFirst()
    }

    func shutdown() { lock.lock(); isShutDown = true; lock.unlock() }
}

final class BatchSpanProcessorTests: XCTestCase {
    private func settings(delay: Double = 60, queue: Int = 100, batch: Int = 10) -> BatchConfiguration {
        var configuration = BatchConfiguration()
        configuration.scheduleDelay = delay
        configuration.maxQueueSize = queue
        configuration.maxExportBatchSize = batch
        configuration.warningInterval = 60
        return configuration
    }

    func testAFullBatchLeavesAtOnce() {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(delay: 60, batch: 5), logger: CapturedLog().logger())
        defer { processor.shutdown(timeout: 5) }
        for id in 1...4 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(exporter.spanCount, 0, "4 of 5 spans wait for the schedule")
        processor.add(Samples.span(id: 5), resource: Samples.resource())
        XCTAssertTrue(eventually(timeout: 5) { exporter.spanCount == 5 })
        XCTAssertEqual(exporter.exports.count, 1)
        XCTAssertEqual(exporter.exports[0].first?.spans.map(\.spanID.value), [1, 2, 3, 4, 5])
    }

    func testTheScheduleSendsWhatWaits() {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(delay: 0.2), logger: CapturedLog().logger())
        defer { processor.shutdown(timeout: 5) }
        let start = Date()
        processor.add(Samples.span(), resource: Samples.resource())
        XCTAssertTrue(eventually(timeout: 5) { exporter.spanCount == 1 })
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.05)
        XCTAssertEqual(processor.counters.spansExported, 1)
    }

    func testSpansAreGroupedByProcess() {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(batch: 4), logger: CapturedLog().logger())
        defer { processor.shutdown(timeout: 5) }
        processor.add(Samples.span(pid: 1, id: 1), resource: Samples.resource(pid: 1, service: "nginx"))
        processor.add(Samples.span(pid: 2, id: 2), resource: Samples.resource(pid: 2, service: "curl"))
        processor.add(Samples.span(pid: 1, id: 3), resource: Samples.resource(pid: 1, service: "nginx"))
        processor.add(Samples.span(pid: 2, id: 4), resource: Samples.resource(pid: 2, service: "curl"))
        XCTAssertTrue(eventually(timeout: 5) { exporter.spanCount == 4 })
        let batches = exporter.exports[0]
        XCTAssertEqual(batches.map(\.resource.serviceName), ["nginx", "curl"])
        XCTAssertEqual(batches.map { $0.spans.map(\.spanID.value) }, [[1, 3], [2, 4]])
    }

    func testOverflowIsDroppedCountedAndWarnedOnce() {
        let exporter = RecordingExporter()
        exporter.gate = DispatchSemaphore(value: 0)
        let log = CapturedLog()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(queue: 10, batch: 5), logger: log.logger())
        // The first 5 make a batch, which the exporter holds: it still counts against the
        // bound of 10, so 5 more fit and the last 5 overflow.
        for id in 1...15 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        let counters = processor.counters
        XCTAssertEqual(counters.spansDroppedQueueFull, 5)
        XCTAssertEqual(counters.queueDepth, 10)
        XCTAssertEqual(log.messages(containing: "queue is full").count, 1, "\(log.messages)")
        XCTAssertTrue(log.messages[0].contains("l7trace: the span queue is full (10 spans; OTEL_BSP_MAX_QUEUE_SIZE)"), log.messages[0])

        for _ in 0..<2 { exporter.gate?.signal() }
        processor.shutdown(timeout: 5)
        XCTAssertEqual(exporter.exports.flatMap { $0[0].spans.map(\.spanID.value) }, Array(1...10), "the oldest spans are kept")
        XCTAssertEqual(processor.counters.spansExported, 10)
        XCTAssertEqual(log.messages(containing: "5 spans were not exported (queue full: 5").count, 1, "\(log.messages)")
    }

    /// A burst of drops right after a warning is not left untold: once
    /// warnings may be logged again, one says how many were dropped since.
    func testTheNextQueueFullWarningTellsEveryDropSinceTheLast() {
        let exporter = RecordingExporter()
        exporter.gate = DispatchSemaphore(value: 0)
        let log = CapturedLog()
        var configuration = settings(queue: 10, batch: 5)
        configuration.warningInterval = 0.3
        let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
        for id in 1...1010 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        XCTAssertEqual(log.messages(containing: "queue is full").count, 1, "\(log.messages)")
        XCTAssertTrue(log.messages[0].contains("dropped 1 span since the last warning, 1 in all"), log.messages[0])
        Thread.sleep(forTimeInterval: 0.4)
        for _ in 0..<2 { exporter.gate?.signal() }  // the exporter takes the queue: room again
        XCTAssertTrue(eventually(timeout: 5) { log.messages(containing: "has room again").count == 1 }, "\(log.messages)")
        XCTAssertTrue(log.messages(containing: "has room again")[0].contains("dropped 999 spans since the last warning, 1000 in all"),
                      "\(log.messages)")
        for _ in 0..<4 { exporter.gate?.signal() }
        processor.shutdown(timeout: 5)
        XCTAssertEqual(processor.counters.spansDroppedQueueFull, 1000)
    }

    func testARetriedBatchKeepsItsPlaceAndWaitsForTheBackoff() {
        let down = ExportResult.retryableFailure("cannot export to http://x/v1/traces: connection refused")
        let exporter = RecordingExporter(answers: [down, down])
        let log = CapturedLog()
        var configuration = settings(delay: 60, queue: 4, batch: 2)
        configuration.retryInitialBackoff = 0.2
        let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
        defer { processor.shutdown(timeout: 5) }
        let start = Date()
        for id in 1...2 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        XCTAssertTrue(eventually { exporter.exports.count == 1 })
        for id in 3...6 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        XCTAssertTrue(eventually { processor.counters.spansExported == 4 })
        // Tries after 0.2s (±20%), then 0.4s (±20%): never sooner than 0.48s in all.
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.48)
        XCTAssertEqual(exporter.exports.map { $0[0].spans.map(\.spanID.value) }, [[1, 2], [1, 2], [1, 2], [3, 4]])
        XCTAssertEqual(processor.counters.spansDroppedQueueFull, 2, "the retried batch kept its room in the queue")
        XCTAssertEqual(processor.counters.exportFailures, 2)
    }

    func testADelayTheCollectorAskedForIsHonoured() {
        let throttled = ExportResult.retryableFailure("cannot export to http://x/v1/traces: HTTP 503", retryAfter: 0.7)
        let exporter = RecordingExporter(answers: [throttled])
        let log = CapturedLog()
        var configuration = settings(delay: 60, batch: 1)
        configuration.retryInitialBackoff = 0.01
        let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
        defer { processor.shutdown(timeout: 5) }
        let start = Date()
        processor.add(Samples.span(id: 1), resource: Samples.resource())
        XCTAssertTrue(eventually { processor.counters.spansExported == 1 })
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.7)
        XCTAssertEqual(log.messages(containing: "HTTP 503; 1 spans are queued for a retry in 0.7s (as the collector asked)").count, 1,
                       "\(log.messages)")
    }

    func testShutdownFlushesEverythingAndStopsTheExporter() {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(delay: 60, queue: 100, batch: 30),
                                           logger: CapturedLog().logger())
        for id in 1...25 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        processor.shutdown(timeout: 5)
        XCTAssertEqual(exporter.spanCount, 25)
        XCTAssertTrue(exporter.isShutDown)
        processor.add(Samples.span(), resource: Samples.resource())
        XCTAssertEqual(processor.counters.spansDroppedAtShutdown, 1, "spans after shutdown are dropped and counted")
    }

    func testShutdownSendsLargeBacklogsInBatches() {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(delay: 60, queue: 100, batch: 10),
                                           logger: CapturedLog().logger())
        exporter.gate = DispatchSemaphore(value: 0)
        for id in 1...35 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        for _ in 0..<4 { exporter.gate?.signal() }
        processor.shutdown(timeout: 5)
        XCTAssertEqual(exporter.exports.map { $0[0].spans.count }, [10, 10, 10, 5])
    }

    func testSpansThatCannotBeSentAtShutdownAreAllCounted() {
        let down = ExportResult.retryableFailure("cannot export to http://x/v1/traces: connection refused")
        let exporter = RecordingExporter(answers: Array(repeating: down, count: 10))
        let log = CapturedLog()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(delay: 60, queue: 100, batch: 10),
                                           logger: log.logger())
        for id in 1...25 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        processor.shutdown(timeout: 5)
        let counters = processor.counters
        XCTAssertEqual(counters.spansExported, 0)
        XCTAssertEqual(counters.spansDropped, 25)
        XCTAssertEqual(counters.queueDepth, 0)
        XCTAssertEqual(log.messages(containing: "25 spans were not exported").count, 1, "\(log.messages)")
    }

    func testForceFlushExportsNow() {
        let exporter = RecordingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(delay: 60), logger: CapturedLog().logger())
        defer { processor.shutdown(timeout: 5) }
        processor.add(Samples.span(), resource: Samples.resource())
        XCTAssertTrue(processor.forceFlush(timeout: 5))
        XCTAssertEqual(exporter.spanCount, 1)
    }

    func testARetryableFailureKeepsTheBatchForTheNextInterval() {
        let exporter = RecordingExporter(answers: [.retryableFailure("cannot export to http://x/v1/traces: connection refused")])
        let log = CapturedLog()
        var configuration = settings(delay: 0.3)
        configuration.retryInitialBackoff = 0.3
        let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration, logger: log.logger())
        defer { processor.shutdown(timeout: 5) }
        processor.add(Samples.span(id: 7), resource: Samples.resource())
        XCTAssertTrue(eventually(timeout: 5) { exporter.exports.count == 2 })
        XCTAssertEqual(exporter.exports.map { $0[0].spans.map(\.spanID.value) }, [[7], [7]])
        XCTAssertEqual(log.messages(containing: "l7trace: cannot export to http://x/v1/traces: connection refused; "
            + "1 spans are queued for a retry").count, 1, "\(log.messages)")
        XCTAssertTrue(eventually { processor.counters.spansExported == 1 })
        XCTAssertEqual(processor.counters.exportFailures, 1)
        XCTAssertEqual(log.messages(containing: "export works again").count, 1)
    }

    func testAPermanentFailureDropsTheBatchWithOneLine() {
        let exporter = RecordingExporter(answers: [.permanentFailure("cannot export to http://x/v1/traces: HTTP 400: bad")])
        let log = CapturedLog()
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(batch: 2), logger: log.logger())
        processor.add(Samples.span(id: 1), resource: Samples.resource())
        processor.add(Samples.span(id: 2), resource: Samples.resource())
        XCTAssertTrue(eventually { processor.counters.spansDroppedExportFailed == 2 })
        processor.shutdown(timeout: 5)
        XCTAssertEqual(exporter.exports.count, 1, "a refused batch is not sent again")
        XCTAssertEqual(log.messages(containing: "HTTP 400: bad; 2 spans were dropped").count, 1, "\(log.messages)")
    }

    func testAddNeverWaitsForASlowExporter() {
        let exporter = RecordingExporter()
        exporter.gate = DispatchSemaphore(value: 0)
        let processor = BatchSpanProcessor(exporter: exporter, configuration: settings(queue: 1000, batch: 10),
                                           logger: CapturedLog().logger())
        let start = Date()
        for id in 1...500 { processor.add(Samples.span(id: UInt64(id)), resource: Samples.resource()) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "the capture thread was held up by the exporter")
        for _ in 0..<50 { exporter.gate?.signal() }
        processor.shutdown(timeout: 5)
        XCTAssertEqual(exporter.spanCount, 500)
    }
}
