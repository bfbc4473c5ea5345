import Foundation
import L7Spans
import Logging

/// Collects finished spans from the capture thread and exports them in
/// batches on its own thread, so capture never waits for the network.
///
/// A batch leaves when `maxExportBatchSize` spans wait or `scheduleDelay`
/// has passed since the last export. The queue is bounded, counting the
/// batch in flight: when it is full new spans are dropped and counted (the
/// oldest are the ones worth keeping: they are already late). A batch that
/// failed in a retryable way goes back to the head of the queue and is tried
/// again after an exponential backoff with jitter, or after the delay the
/// collector asked for; a collector that is down costs memory up to the
/// queue bound and nothing else, and once it is back every queued span
/// arrives once.
// @unchecked: every var is guarded by `condition` (an NSCondition: the export thread
// waits on it, which Mutex cannot do) or, as marked, touched by the export thread only.
public final class BatchSpanProcessor: @unchecked Sendable {
    private let exporter: SpanExporter
    private let configuration: BatchConfiguration
    private let logger: Logger

    /// Guards everything below it and wakes the export thread.
    private let condition = NSCondition()
    private var queue: SpanQueue
    private var totals = ExportCounters()
    private var flushRequested: UInt64 = 0
    private var flushCompleted: UInt64 = 0
    private var stopping = false
    private var finished = false
    private var queueFullWarnings: RateLimiter
    private var droppedSinceWarning: UInt64 = 0
    /// Spans of the batch being exported: they still count against the queue bound.
    private var inFlight = 0

    // Guarded by the lock too, but only the export thread changes them.
    private var retryNotBefore = 0.0
    private var backoff: Backoff

    // Touched by the export thread only.
    private var failureWarnings: RateLimiter
    private var failuresInARow = 0

    public init(exporter: SpanExporter, configuration: BatchConfiguration = BatchConfiguration(), logger: Logger) {
        self.exporter = exporter
        var configuration = configuration
        configuration.maxQueueSize = max(1, configuration.maxQueueSize)
        configuration.maxExportBatchSize = min(max(1, configuration.maxExportBatchSize), configuration.maxQueueSize)
        self.configuration = configuration
        self.logger = logger
        queue = SpanQueue(runLimit: configuration.maxExportBatchSize)
        queueFullWarnings = RateLimiter(interval: configuration.warningInterval)
        failureWarnings = RateLimiter(interval: configuration.warningInterval)
        backoff = Backoff(initial: configuration.retryInitialBackoff, maximum: configuration.retryMaxBackoff)
        let thread = Thread { [self] in exportLoop() }
        thread.name = "l7trace-export"
        thread.start()
    }

    /// Queues one span; never blocks on the exporter. Called from the capture
    /// thread. The span is consumed: moved into the queue, not copied.
    public func add(_ span: consuming SpanRecord, resource: ProcessResource) {
        var warning: String?
        condition.lock()
        if stopping {
            totals.spansDroppedAtShutdown += 1
        } else if queue.count + inFlight >= configuration.maxQueueSize {
            totals.spansDroppedQueueFull += 1
            droppedSinceWarning += 1
            warning = queueFullWarning(stillFull: true)
        } else {
            queue.append(span, resource: resource)
            if queue.count == configuration.maxExportBatchSize { condition.signal() }
            // A burst of drops ended: say how many it dropped in all.
            if droppedSinceWarning > 0 { warning = queueFullWarning(stillFull: false) }
        }
        condition.unlock()
        if let warning { logger.warning("\(warning)") }
    }

    /// The queue-full warning, when one may be logged now (lock held): every
    /// span dropped since the last one is in it, those dropped while
    /// warnings were held back included.
    private func queueFullWarning(stillFull: Bool) -> String? {
        guard queueFullWarnings.allow() else { return nil }
        let dropped = droppedSinceWarning
        droppedSinceWarning = 0
        let state = stillFull ? "is full" : "has room again"
        return "l7trace: the span queue \(state) (\(configuration.maxQueueSize) spans; OTEL_BSP_MAX_QUEUE_SIZE): "
            + "dropped \(dropped) span\(dropped == 1 ? "" : "s") since the last warning, "
            + "\(totals.spansDroppedQueueFull) in all"
    }

    /// Exports everything queued now; returns false when `timeout` (seconds) ran out first.
    @discardableResult
    public func forceFlush(timeout: Double = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        flushRequested += 1
        let target = flushRequested
        condition.broadcast()
        while flushCompleted < target && !finished {
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }

    /// Exports what is pending (each batch tried once), then stops the export
    /// thread and the exporter. Spans added afterwards are dropped.
    public func shutdown(timeout: Double) {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        stopping = true
        condition.broadcast()
        var completed = true
        while !finished {
            if !condition.wait(until: deadline) { completed = false; break }
        }
        let abandoned = queue.count
        if !completed {
            totals.spansDroppedAtShutdown += UInt64(abandoned)
            queue.removeAll()
        }
        let final = totals
        condition.unlock()

        if completed {
            exporter.shutdown()
        } else {
            // The export thread is still inside the exporter; leave it to the process exit.
            logger.warning("l7trace: export did not finish within \(timeout)s at shutdown; \(abandoned) queued spans were dropped")
        }
        if final.spansDropped > 0 {
            let causes = "queue full: \(final.spansDroppedQueueFull), export failed: \(final.spansDroppedExportFailed), "
                + "at shutdown: \(final.spansDroppedAtShutdown)"
            logger.warning("l7trace: \(final.spansDropped) spans were not exported (\(causes))")
        }
    }

    /// A snapshot of what happened so far.
    public var counters: ExportCounters {
        condition.lock()
        defer { condition.unlock() }
        var snapshot = totals
        snapshot.queueDepth = queue.count + inFlight
        return snapshot
    }

    // MARK: The export thread

    private func exportLoop() {
        condition.lock()
        var nextExport = MonotonicSeconds.now() + configuration.scheduleDelay
        while true {
            // Wait for a reason: a full batch, the schedule, a flush or shutdown;
            // after a failure, not before the backoff is over.
            while !stopping && flushCompleted == flushRequested {
                let now = MonotonicSeconds.now()
                if now >= nextExport && queue.isEmpty { nextExport = now + configuration.scheduleDelay }
                let due = queue.count >= configuration.maxExportBatchSize ? now : nextExport
                let wake = max(due, retryNotBefore)
                if now >= wake { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(wake - now, 0.001)))
            }
            let flushTarget = flushRequested
            let draining = stopping

            // Send everything queued, a batch at a time, until empty or a failure.
            while !queue.isEmpty {
                let batch = queue.takeBatch()
                inFlight = batch.count
                condition.unlock()
                let result = exporter.export(batch.groups)
                condition.lock()
                inFlight = 0
                if !handle(result, batch: batch, requeue: !draining) { break }
            }

            nextExport = MonotonicSeconds.now() + configuration.scheduleDelay
            if droppedSinceWarning > 0, let warning = queueFullWarning(stillFull: false) {
                // No span may come to tell of the burst's end: the export does.
                logger.warning("\(warning)")
            }
            if flushCompleted < flushTarget { flushCompleted = flushTarget }
            condition.broadcast()
            if draining {
                // The collector failed during the last pass: nothing left will get through in time.
                totals.spansDroppedAtShutdown += UInt64(queue.count)
                queue.removeAll()
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
        }
    }

    /// Books the outcome of one export (lock held); false when the loop should stop for now.
    private func handle(_ result: ExportResult, batch: (groups: [ResourceBatch], count: Int), requeue: Bool) -> Bool {
        let count = UInt64(batch.count)
        switch result {
        case .success:
            totals.spansExported += count
            backoff.reset()
            retryNotBefore = 0
            if failuresInARow > 0 {
                logger.info("l7trace: export works again after \(failuresInARow) failed attempt\(failuresInARow == 1 ? "" : "s")")
                failuresInARow = 0
            }
            return true
        case .retryableFailure(let reason, let requested):
            totals.exportFailures += 1
            failuresInARow += 1
            let outcome: String
            if requeue {
                // The in-flight accounting kept room for it: nothing newer took its place.
                queue.prepend(batch.groups, count: batch.count)
                var delay = backoff.nextDelay()
                if let requested { delay = min(max(requested, 0), configuration.retryMaxRequestedDelay) }
                retryNotBefore = MonotonicSeconds.now() + delay
                let asked = requested == nil ? "" : " (as the collector asked)"
                outcome = "\(count) spans are queued for a retry in \(Self.seconds(delay))\(asked)"
            } else {
                totals.spansDroppedExportFailed += count
                outcome = "\(count) spans were dropped"
            }
            warnFailure(reason + "; " + outcome)
            return false
        case .permanentFailure(let reason):
            totals.exportFailures += 1
            failuresInARow += 1
            totals.spansDroppedExportFailed += count
            warnFailure(reason + "; \(count) spans were dropped")
            return true
        }
    }

    private func warnFailure(_ message: String) {
        let suppressed = failureWarnings.suppressed
        guard failureWarnings.allow() else { return }
        let repeats = suppressed > 0 ? " (\(suppressed) more failures since the last message)" : ""
        logger.warning("l7trace: \(message)\(repeats)")
    }

    /// `3s`, `0.3s`, `1.25s`: at most two decimals.
    static func seconds(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        if hundredths % 100 == 0 { return "\(hundredths / 100)s" }
        if hundredths % 10 == 0 { return "\(hundredths / 100).\(hundredths % 100 / 10)s" }
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)s"
    }
}
