import Foundation
import L7Capture
import L7Events
import L7Export
import L7Linking
import L7Protocols
import L7Spans
import Logging

/// Wires the pipeline: capture → connections/protocols → spans → linking → export.
///
/// Everything up to `BatchSpanProcessor.add` runs on the capture thread, in
/// the ring buffer's callback, so the borrowed payload bytes never need a
/// copy; export runs on the processor's own thread.
final class Tracer {
    private let configuration: TracerConfiguration
    private let capture: Capture
    private let tracker: ConnectionTracker
    private let spans: SpanBuilder
    /// Links server spans to the traced client spans that sent their requests.
    private let linker = Linker()
    /// Lost records and unfollowed calls the kernel had counted at the last poll.
    private var lossesSeen: UInt64 = 0
    private let processor: BatchSpanProcessor
    private let telemetry: SelfTelemetry
    private let processes = ProcessDirectory()
    private let selection: ProcessSelection
    /// User space's verdict per process, when service names decide it.
    private var decisions: [UInt32: Bool] = [:]
    /// Set by the signal watcher, read between polls.
    private let stopRequested: ManagedAtomicFlag
    private let heap = HeapTrimmer()
    private let logger: Logger

    init(configuration: TracerConfiguration, logger: Logger, stopRequested: ManagedAtomicFlag) throws {
        self.configuration = configuration
        self.stopRequested = stopRequested
        self.logger = logger
        var parents: [UInt32: UInt32] = [:]
        if !configuration.selection.pids.isEmpty {
            for pid in ProcFS.allPids() { parents[pid] = ProcFS.parentPid(pid) }
        }
        selection = configuration.selection.includingRunningDescendants(parents: parents)

        let exporter = try configuration.export.makeExporter(logger: logger)
        processor = BatchSpanProcessor(exporter: exporter, configuration: configuration.export.batch, logger: logger)

        tracker = ConnectionTracker()
        tracker.listeningPorts = ProcFS.listeningPorts()
        spans = SpanBuilder(options: configuration.spanOptions, clock: ClockConversion.current(),
                            ids: RandomIDGenerator())

        var options = CaptureOptions()
        if selection.needsServiceNames {
            options.processMode = .decide
        } else if !selection.pids.isEmpty {
            options.processMode = .listed
        } else {
            options.processMode = .all
        }
        options.pids = Array(selection.pids)
        options.ports = configuration.ports
        options.captureBytesPerCall = configuration.captureBytesPerCall
        capture = try Capture(options: options)
        if let fallbacks = KernelFallback.summary(capture.kernelFallbacks) {
            FileHandle.standardError.write((fallbacks + "\n").data(using: .utf8)!)
        }
        telemetry = try SelfTelemetry(capture: capture, processor: processor, configuration: configuration, logger: logger)
        processes.preloadRunningProcesses()

        tracker.onIgnore = { [capture] key, fd in
            capture.ignoreConnection(tgid: key.tgid, fd: fd, connectionID: key.connectionID)
        }
        tracker.onHTTP2 = { [capture] key, fd in
            capture.markHTTP2(tgid: key.tgid, fd: fd, connectionID: key.connectionID)
        }
        tracker.onUnreadableTLS = { [capture] info in
            let port = info.role == .client ? info.remote?.port : info.local?.port ?? info.remote?.port
            capture.tlsConnectionUnreadable(pid: info.pid, port: port)
        }
        // A client request's span ids are fixed when its head is parsed; a
        // server span waiting for them is released then.
        if configuration.linking {
            tracker.onRequestStarted = { [unowned self] started in
                self.linker.requestStarted(started) { record, resource in self.processor.add(record, resource: resource) }
            }
        }
        // HTTPS: OpenSSL probes on the libraries of the processes selected.
        capture.traceTLS { [unowned self] pid in self.isSelected(pid) }
    }

    /// How long a poll waits when the kernel does not wake us. Each wake-up
    /// costs ~0.1 ms of CPU on a VM, whatever it finds, so the tracer wakes
    /// five times a second when idle; spans then reach the export queue at
    /// most this late, well inside its schedule delay (5 s by default).
    static let pollIntervalMs: Int32 = 200
    /// Records one poll hands over at most (L7_POLL_BUDGET in l7probes.c).
    static let pollBudget = 65536

    /// Runs until stopped or the duration elapses, then flushes.
    func run() {
        let deadline = configuration.duration.map { DispatchTime.now().uptimeNanoseconds + UInt64($0 * 1e9) }
        let metrics = telemetry.metricsEndpoint.map { "; metrics on \($0)" } ?? ""
        FileHandle.standardError.write("l7trace: ready (\(configuration.summary)\(metrics))\n".data(using: .utf8)!)
        while !stopRequested.isSet {
            var timeoutMs = Self.pollIntervalMs
            if let deadline {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { break }
                timeoutMs = Int32(min(UInt64(timeoutMs), (deadline - now) / 1_000_000 + 1))
            }
            // Every record written before the poll began is consumed by it
            // (unless it stopped at its budget): the linker's watermark.
            let pollStartNs = MonotonicClock.nowNs()
            let delivered = capture.poll(timeoutMs: timeoutMs) { event in self.handle(event) }
            if delivered < Self.pollBudget {
                linker.advance(watermarkNs: pollStartNs) { record, resource in processor.add(record, resource: resource) }
            }
            noteCaptureLosses()
            tracker.judgeUnreadableTLS(nowNs: MonotonicClock.nowNs())
            telemetry.tick(tracker.stats, http2: tracker.http2Stats, links: linker.counters)
            heap.tick(nowNs: DispatchTime.now().uptimeNanoseconds,
                      spareCapacity: { tracker.holdsSpareCapacity },
                      releasing: { tracker.releaseSpareCapacity() })
            if configuration.dumpEvents { fflush(nil) }  // stdout, without naming the C global
        }
        telemetry.captureClosing()
        let lastCounters = capture.counters()
        capture.close()
        tracker.flushAll { exchange in self.export(exchange) }
        linker.flushAll { record, resource in processor.add(record, resource: resource) }
        capture.reportPendingTLS()
        processor.shutdown(timeout: configuration.export.shutdownTimeout)
        telemetry.tick(tracker.stats, http2: tracker.http2Stats, links: linker.counters)
        telemetry.finish()
        reportLosses(lastCounters)
    }

    private func handle(_ event: CaptureEvent) {
        if configuration.dumpEvents { print(Capture.describe(event)) }
        switch event {
        case .processStarted(let started):
            processes.refresh(started.tgid)
            if selection.needsServiceNames {
                decisions[started.tgid] = nil
                _ = isSelected(started.tgid)
            }
            return
        case .processForked(let forked):
            processes.forked(forked.tgid, from: forked.parentTgid)
            if selection.needsServiceNames, let parentDecision = decisions[forked.parentTgid] {
                decisions[forked.tgid] = parentDecision // as the kernel did with the verdict
            }
            return
        case .processExited(let exited):
            tracker.processExited(exited.tgid) { exchange in self.export(exchange) }
            processes.forget(exited.tgid)
            decisions[exited.tgid] = nil
            return
        case .open(let opened):
            guard isSelected(opened.key.tgid) else { return }
            linker.opened(opened)
        case .data(let chunk):
            guard isSelected(chunk.key.tgid) else { return }
        case .close(let closed):
            guard isSelected(closed.key.tgid) else { return }
            if !closed.shared { linker.closed(closed.key.connectionID, atNs: closed.timestampNs) }
        }
        tracker.handle(event) { exchange in self.export(exchange) }
    }

    /// Records lost by the ring buffer, or calls not followed, may shift an
    /// HTTP/1 request count silently: the linker stops trusting the counts
    /// of connections open now. One map read per poll.
    private func noteCaptureLosses() {
        let counters = capture.counters()
        let losses = counters.lostEvents &+ counters.threadStatesFull
        if losses != lossesSeen {
            lossesSeen = losses
            linker.captureLost(atNs: MonotonicClock.nowNs())
        }
    }

    /// Decides, once per process, whether its service name is selected and
    /// tells the kernel, so a rejected process costs nothing from then on.
    private func isSelected(_ tgid: UInt32) -> Bool {
        guard selection.needsServiceNames else { return true }
        if let known = decisions[tgid] { return known }
        let resource = processes.resource(of: tgid)
        let parentSelected = ProcFS.parentPid(tgid).flatMap { decisions[$0] } ?? false
        let selected = selection.selects(pid: tgid, serviceName: resource.serviceName, inheritedSelection: parentSelected)
        decisions[tgid] = selected
        capture.setProcessVerdict(tgid, trace: selected)
        return selected
    }

    private func export(_ exchange: Exchange) {
        telemetry.record(exchange)
        let resource = processes.resource(of: exchange.connection.pid)
        guard configuration.linking else { return processor.add(spans.span(for: exchange), resource: resource) }
        switch exchange.connection.role {
        case .client:
            processor.add(spans.span(for: exchange, identity: linker.clientIdentity(for: exchange)), resource: resource)
        case .server:
            linker.serverSpan(spans.span(for: exchange), resource: resource, of: exchange) { record, resource in
                processor.add(record, resource: resource)
            }
        case .unknown:
            processor.add(spans.span(for: exchange), resource: resource)
        }
    }

    /// Takes the counters read before `capture.close()`: the maps are gone after it.
    private func reportLosses(_ counters: CaptureCounters) {
        if counters.lostEvents > 0 {
            logger.warning("l7trace: the kernel lost \(counters.lostEvents) events (\(counters.lostBytes) bytes): the ring buffer was full")
        }
        if counters.threadStatesFull > 0 {
            logger.warning("l7trace: \(counters.threadStatesFull) calls of traced threads were not followed: the kernel's table of \(KernelFallback.maxThreadStates) thread states was full")
        }
        if counters.sslUnattributed > 0 {
            let line = "l7trace: \(counters.sslUnattributed) OpenSSL reads/writes could not be tied to a socket and were not traced"
                + " (memory BIOs, named by the \"cannot read\" warnings; or a first request read with the handshake's end)"
            logger.warning("\(line)")
        }
    }
}
