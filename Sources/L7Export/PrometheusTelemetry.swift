import Prometheus
import Synchronization

/// The tracer's counters in the Prometheus text format, through
/// swift-prometheus (which owns naming, escaping and the exposition
/// format). Counters only go up: each `update` adds what changed since
/// the previous snapshot.
public final class PrometheusTelemetry: Sendable {
    /// A scrape updates then renders: one at a time, so each counter gets each difference once.
    private let state: Mutex<State>

    public init() {
        state = Mutex(State(registry: PrometheusCollectorRegistry()))
    }

    /// Brings every metric up to `snapshot`, then renders the exposition text.
    public func exposition(for snapshot: TelemetrySnapshot) -> [UInt8] {
        state.withLock { state in
            state.update(snapshot)
            return state.registry.emitToBuffer()
        }
    }
}

extension PrometheusTelemetry {
    private struct State {
        let registry: PrometheusCollectorRegistry
        let queueDepth: Gauge
        var last = TelemetrySnapshot()
        var counters: [String: Counter] = [:]

        init(registry: PrometheusCollectorRegistry) {
            self.registry = registry
            queueDepth = registry.makeGauge(descriptor: MetricNameDescriptor(
                namespace: "l7trace", metricName: "export_queue", unitName: "spans", helpText: "Spans waiting in the export queue"))
        }

        mutating func update(_ now: TelemetrySnapshot) {
            add("events_received", "Events the kernel sent through the ring buffer", now.eventsReceived, last.eventsReceived)
            add("events_lost", "Events lost in the kernel because the ring buffer was full", now.eventsLost, last.eventsLost)
            add("bytes_lost", "Bytes of the calls whose events were lost in the kernel", now.bytesLost, last.bytesLost)
            for count in now.exchanges {
                let before = last.exchanges.first { $0.protocolName == count.protocolName }?.count ?? 0
                add("exchanges", "Request/response exchanges reconstructed", count.count, before,
                    labels: [("protocol", count.protocolName)])
            }
            for count in now.parseErrors {
                let before = last.parseErrors.first { $0.protocolName == count.protocolName && $0.reason == count.reason }?.count ?? 0
                add("parse_errors", "Messages dropped because they could not be parsed", count.count, before,
                    labels: [("protocol", count.protocolName), ("reason", count.reason)])
            }
            for count in now.exchangesLost {
                let before = last.exchangesLost.first { $0.protocolName == count.protocolName && $0.reason == count.reason }?.count ?? 0
                add("exchanges_lost", "Requests seen that gave no span, by reason", count.count, before,
                    labels: [("protocol", count.protocolName), ("reason", count.reason)])
            }
            add("header_fields_omitted", "HTTP/2 header fields left out because a header list was full",
                now.headerFieldsOmitted, last.headerFieldsOmitted)
            add("body_sizes_unknown", "HTTP/1 chunked bodies whose framing was not captured (span without a body size)",
                now.bodySizesUnknown, last.bodySizesUnknown)
            add("connections_evicted", "Connections forgotten to respect the connection limit",
                now.connectionsEvicted, last.connectionsEvicted)
            add("tls_connections_unreadable", "TLS connections whose plaintext no probe could read (no spans)",
                now.tlsConnectionsUnreadable, last.tlsConnectionsUnreadable)
            for count in now.spanLinks {
                let before = last.spanLinks.first { $0.reason == count.reason }?.count ?? 0
                add("span_links", "Server spans linked to their client spans, held, or refused, by outcome", count.count,
                    before, labels: [("outcome", count.reason)])
            }
            let export = now.export, was = last.export
            add("spans_exported", "Spans the exporter delivered", export.spansExported, was.spansExported)
            let dropHelp = "Spans dropped, by cause"
            add("spans_dropped", dropHelp, export.spansDroppedQueueFull, was.spansDroppedQueueFull,
                labels: [("cause", "queue_full")])
            add("spans_dropped", dropHelp, export.spansDroppedExportFailed, was.spansDroppedExportFailed,
                labels: [("cause", "export_failed")])
            add("spans_dropped", dropHelp, export.spansDroppedAtShutdown, was.spansDroppedAtShutdown,
                labels: [("cause", "shutdown")])
            add("export_failures", "Export requests that failed", export.exportFailures, was.exportFailures)
            queueDepth.set(Int64(export.queueDepth))
            last = now
        }

        /// Adds `now - before` to the counter `l7trace_<name>_total{labels}`.
        mutating func add(_ name: String, _ help: String, _ now: UInt64, _ before: UInt64, labels: [(String, String)] = []) {
            let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
            let counter: Counter
            if let known = counters[key] {
                counter = known
            } else {
                let descriptor = MetricNameDescriptor(namespace: "l7trace", metricName: name, unitName: "total", helpText: help)
                counter = registry.makeCounter(descriptor: descriptor, labels: labels)
                counters[key] = counter
            }
            if now > before { counter.increment(by: Int64(clamping: now - before)) }
        }
    }
}
