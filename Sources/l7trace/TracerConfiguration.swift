import L7Export
import L7Spans

/// Everything the command line and the OTEL_* environment decided.
struct TracerConfiguration {
    var selection: ProcessSelection
    var ports: [UInt16]
    var export: ExportConfiguration
    var spanOptions: SpanOptions
    var captureBytesPerCall: Int
    var duration: Double?
    var dumpEvents: Bool
    /// Whether server spans are linked to the traced client spans that sent
    /// their requests (`--no-link` turns it off: each span keeps the trace its headers give it).
    var linking = true
    /// Self-telemetry: the Prometheus endpoint (nil: none) and the stats line's period (0: never).
    var metricsPort: UInt16? = nil
    var metricsAddress = "127.0.0.1"
    var statsInterval: Double = 60

    /// What the ready line says is being traced and where spans go.
    var summary: String {
        var parts: [String] = []
        if !selection.pids.isEmpty { parts.append("pids " + selection.pids.sorted().map(String.init).joined(separator: ",")) }
        if !selection.serviceGlobs.isEmpty { parts.append("services " + selection.serviceGlobs.joined(separator: ",")) }
        if !selection.excludedServiceGlobs.isEmpty { parts.append("excluding " + selection.excludedServiceGlobs.joined(separator: ",")) }
        if !ports.isEmpty { parts.append("ports " + ports.map(String.init).joined(separator: ",")) }
        if parts.isEmpty { parts.append("every process") }
        return "tracing " + parts.joined(separator: "; ") + "; exporting to " + export.destinationDescription
    }
}
