import Foundation
import L7Capture
import L7Export
import L7Linking
import L7Protocols
import Logging
import Synchronization

/// The tracer's own counters: gathered from capture (kernel counters),
/// protocols (tracker stats, exchanges by protocol) and export (the batch
/// processor), logged as one line every `interval` and at exit, and served
/// on the Prometheus endpoint when `--metrics-port` is given.
///
/// The tracker lives on the capture thread, so the capture thread hands its
/// figures over here (`record`, `protocolStats`) under a lock; a scrape on
/// the metrics thread reads only those copies, never the tracker itself.
// @unchecked: `nextLog` and `exchangeCounts` are the capture thread's alone, and a
// scrape reads `capture` only inside `published`'s lock, taken by captureClosing() before Capture closes.
final class SelfTelemetry: @unchecked Sendable {
    private let capture: Capture
    private let processor: BatchSpanProcessor
    private let logger: Logger
    private let interval: Double
    private var nextLog: Double
    private let prometheus = PrometheusTelemetry()
    private var server: MetricsServer?

    /// What the capture thread handed over, for the stats line and the scrapes.
    private let published = Mutex(Published())

    private struct Published {
        var stats = ProtocolStats()
        var http2Stats = ProtocolStats()
        var exchangeCounts: [UInt64] = [0, 0, 0]
        var links = LinkCounters()
        /// Capture's counters once it is closed (its maps are gone then).
        var finalCapture: CaptureCounters?
    }

    /// Exchanges by protocol (HTTP/1, HTTP/2, gRPC): counted on the capture
    /// thread without the lock, published under it by `tick`.
    private var exchangeCounts: [UInt64] = [0, 0, 0]

    init(capture: Capture, processor: BatchSpanProcessor, configuration: TracerConfiguration, logger: Logger) throws {
        self.capture = capture
        self.processor = processor
        self.logger = logger
        interval = configuration.statsInterval
        nextLog = Self.now() + interval
        if let port = configuration.metricsPort {
            server = try MetricsServer(address: configuration.metricsAddress, port: port) { [unowned self] in
                prometheus.exposition(for: snapshot())
            }
        }
    }

    var metricsEndpoint: String? {
        server.map { $0.address.contains(":") ? "http://[\($0.address)]:\($0.port)/metrics" : "http://\($0.address):\($0.port)/metrics" }
    }

    /// Counts one exchange by protocol (capture thread).
    func record(_ exchange: Exchange) {
        // Runs per exchange: no string searching, hashing or locking here.
        let index = exchange.isGRPC ? 2 : exchange.request.version == "2" ? 1 : 0
        exchangeCounts[index] += 1
    }

    /// The tracker's latest figures (capture thread, once per poll); logs the stats line when it is due.
    func tick(_ protocolStats: ProtocolStats, http2: ProtocolStats, links: LinkCounters) {
        let counts = exchangeCounts
        published.withLock {
            $0.stats = protocolStats
            $0.http2Stats = http2
            $0.exchangeCounts = counts
            $0.links = links
        }
        guard interval > 0 else { return }
        let now = Self.now()
        if now >= nextLog {
            nextLog = now + interval
            logger.info("\(snapshot().logLine)")
        }
    }

    /// Keeps capture's last counters before it is closed; no scrape reads Capture afterwards.
    func captureClosing() {
        published.withLock { $0.finalCapture = capture.counters() }
    }

    /// Logs the final line and stops the endpoint.
    func finish() {
        if interval > 0 { logger.info("\(snapshot().logLine)") }
        server?.stop()
    }

    func snapshot() -> TelemetrySnapshot {
        // Capture is read under the lock: a scrape racing captureClosing() must not read closed maps.
        let (stats, http2, exchanges, kernel, links) = published.withLock {
            ($0.stats, $0.http2Stats, $0.exchangeCounts, $0.finalCapture ?? capture.counters(), $0.links)
        }
        var snapshot = TelemetrySnapshot()
        snapshot.eventsReceived = kernel.events
        snapshot.eventsLost = kernel.lostEvents
        snapshot.bytesLost = kernel.lostBytes
        snapshot.exchanges = ["http1", "http2", "grpc"].enumerated().map {
            TelemetrySnapshot.ProtocolCount(protocolName: $0.element, count: exchanges[$0.offset])
        }
        let http1 = stats.excluding(http2)
        snapshot.parseErrors = [("http1", http1), ("http2", http2)].flatMap { name, s in
            [TelemetrySnapshot.ProtocolCount(protocolName: name, reason: "malformed", count: UInt64(s.malformedMessages)),
             .init(protocolName: name, reason: "oversized", count: UInt64(s.oversizedHeads)),
             .init(protocolName: name, reason: "hole", count: UInt64(s.holesInHeaders))]
        }
        snapshot.exchangesLost = [
            .init(protocolName: "http1", reason: "pipeline_overflow", count: UInt64(http1.pipelineOverflows)),
            .init(protocolName: "http1", reason: "dropped", count: UInt64(http1.droppedExchanges)),
            .init(protocolName: "http1", reason: "orphan_response", count: UInt64(http1.orphanResponses)),
            .init(protocolName: "http1", reason: "tls_in_flight_at_start", count: UInt64(http1.tlsInFlightAtStart)),
            .init(protocolName: "http2", reason: "dropped", count: UInt64(http2.droppedExchanges)),
            .init(protocolName: "http2", reason: "orphan_response", count: UInt64(http2.orphanResponses)),
            .init(protocolName: "http2", reason: "refused", count: UInt64(http2.refusedStreams)),
        ]
        snapshot.headerFieldsOmitted = UInt64(stats.headerFieldsOmitted)
        snapshot.bodySizesUnknown = UInt64(stats.bodiesOfUnknownSize)
        snapshot.connectionsEvicted = UInt64(stats.connectionsEvicted)
        snapshot.tlsConnectionsUnreadable = UInt64(stats.tlsConnectionsUnreadable)
        snapshot.spanLinks = [
            ("linked", links.links), ("held", links.held), ("hold_expired", links.holdExpired),
            ("hold_overflow", links.holdOverflows), ("inexact_position", links.inexactPositions),
            ("refused_causality", links.refusedCausality), ("refused_duplicate", links.refusedDuplicate),
            ("refused_after_loss", links.refusedAfterLoss), ("client_connections_full", links.clientConnectionsFull),
            ("header_conflict", links.headerConflicts),
            ("linked_thread", links.linksThread), ("linked_event_loop", links.linksEventLoop),
            ("linked_header", links.linksHeader), ("tentative", links.tentative),
            ("refused_ambiguous", links.refusedAmbiguous), ("refused_flagged", links.refusedFlagged),
            ("refused_runtime", links.refusedRuntime), ("refused_late", links.refusedLate),
            ("refused_thread_hop", links.refusedThreadHop), ("refused_unverifiable", links.refusedUnverifiable),
            ("pending_expired", links.pendingExpired), ("pending_held", links.pendingHeld),
            ("pending_overflow", links.pendingOverflow), ("spontaneous_call", links.spontaneousCalls),
            ("header_reused", links.headerReused), ("processes_full", links.processesFull),
            ("open_requests_overflow", links.openRequestsOverflow),
        ].map { TelemetrySnapshot.ProtocolCount(protocolName: "", reason: $0.0, count: UInt64($0.1)) }
        snapshot.export = processor.counters
        return snapshot
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
