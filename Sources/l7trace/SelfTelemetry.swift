import Foundation
import L7Capture
import L7Export
import L7Protocols
import Logging

/// The tracer's own counters: gathered from capture (kernel counters),
/// protocols (tracker stats, exchanges by protocol) and export (the batch
/// processor), logged as one line every `interval` and at exit, and served
/// on the Prometheus endpoint when `--metrics-port` is given.
///
/// The tracker lives on the capture thread, so the capture thread hands its
/// figures over here (`record`, `protocolStats`) under a lock; a scrape on
/// the metrics thread reads only those copies, never the tracker itself.
final class SelfTelemetry: @unchecked Sendable {
    private let capture: Capture
    private let processor: BatchSpanProcessor
    private let logger: Logger
    private let interval: Double
    private var nextLog: Double
    private let prometheus = PrometheusTelemetry()
    private var server: MetricsServer?

    private let lock = NSLock()
    private var stats = ProtocolStats()
    private var http2Stats = ProtocolStats()
    /// Exchanges by protocol (HTTP/1, HTTP/2, gRPC): counted on the capture
    /// thread without the lock, published under it by `tick`.
    private var exchangeCounts: [UInt64] = [0, 0, 0]
    private var publishedExchangeCounts: [UInt64] = [0, 0, 0]
    /// Capture's counters once it is closed (its maps are gone then).
    private var finalCapture: CaptureCounters?

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
    func tick(_ protocolStats: ProtocolStats, http2: ProtocolStats) {
        lock.lock()
        stats = protocolStats
        http2Stats = http2
        publishedExchangeCounts = exchangeCounts
        lock.unlock()
        guard interval > 0 else { return }
        let now = Self.now()
        if now >= nextLog {
            nextLog = now + interval
            logger.info("\(snapshot().logLine)")
        }
    }

    /// Keeps capture's last counters before it is closed.
    func captureClosing() {
        let counters = capture.counters()
        lock.lock()
        finalCapture = counters
        lock.unlock()
    }

    /// Logs the final line and stops the endpoint.
    func finish() {
        if interval > 0 { logger.info("\(snapshot().logLine)") }
        server?.stop()
    }

    func snapshot() -> TelemetrySnapshot {
        lock.lock()
        let stats = self.stats, http2 = http2Stats, exchanges = publishedExchangeCounts, closed = finalCapture
        lock.unlock()
        let kernel = closed ?? capture.counters()
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
        snapshot.export = processor.counters
        return snapshot
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
