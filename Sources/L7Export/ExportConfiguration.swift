import Glibc
import Logging

/// Where spans go.
public enum ExporterKind: String, Equatable, Sendable {
    case otlp, console, file, none
}

/// One extra request header for the collector (`OTEL_EXPORTER_OTLP_HEADERS`).
public struct OTLPHeader: Equatable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// The export settings from the command line and the standard `OTEL_*`
/// variables. Pure: parsing reads only the dictionary it is given.
public struct ExportConfiguration: Equatable, Sendable {
    public static let defaultTracesURL = "http://localhost:4318/v1/traces"
    public static let defaultGRPCEndpoint = "http://localhost:4317"

    public var exporter: ExporterKind
    public var otlpProtocol: OTLPProtocol
    /// The full URL spans are POSTed to; meaningful for `.otlp`. For gRPC,
    /// `scheme://host:port` + the TraceService/Export path.
    public var tracesURL: String
    public var headers: [OTLPHeader]
    /// Per-request timeout (`OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`), seconds; 0 means no limit.
    public var timeout: Double
    /// `none` or `gzip`.
    public var compression: String
    /// CA and client certificate files for https:// collectors.
    public var tls: TLSFiles
    /// Where `.file` writes OTLP JSON lines; `-` is standard output.
    public var outputPath: String
    public var batch: BatchConfiguration

    public init(exporter: ExporterKind = .console, otlpProtocol: OTLPProtocol = .httpProtobuf,
                tracesURL: String = ExportConfiguration.defaultTracesURL, headers: [OTLPHeader] = [], timeout: Double = 10,
                compression: String = "none", tls: TLSFiles = TLSFiles(), outputPath: String = "-",
                batch: BatchConfiguration = BatchConfiguration()) {
        self.exporter = exporter; self.otlpProtocol = otlpProtocol; self.tracesURL = tracesURL; self.headers = headers
        self.timeout = timeout; self.compression = compression; self.tls = tls; self.outputPath = outputPath
        self.batch = batch
    }

    /// The timeout of one export request: the OTLP timeout, bounded by the
    /// processor's export timeout; 0 when neither sets a limit.
    public var requestTimeout: Double {
        [timeout, batch.exportTimeout].filter { $0 > 0 }.min() ?? 0
    }

    /// How long shutdown may spend flushing pending spans, seconds: one export timeout.
    public var shutdownTimeout: Double {
        let limit = requestTimeout
        return limit > 0 ? max(limit, 1) : 30
    }

    /// Where spans go, for the ready line.
    public var destinationDescription: String {
        switch exporter {
        case .otlp:
            let shown = otlpProtocol == .grpc ? String(tracesURL.dropLast(OTLPProtocol.grpcExportPath.count)) : tracesURL
            return shown + " (\(otlpProtocol.displayName)" + (compression == "gzip" ? ", gzip)" : ")")
        case .console: return "the console"
        case .file: return (outputPath == "-" ? "standard output" : outputPath) + " (OTLP JSON lines)"
        case .none: return "nowhere (--exporter none)"
        }
    }

    /// The exporter these settings describe.
    public func makeExporter(logger: Logger) throws -> SpanExporter {
        switch exporter {
        case .none:
            return NoopSpanExporter()
        case .console:
            return ConsoleExporter()
        case .file:
            return try FileExporter(path: outputPath)
        case .otlp:
            // A missing certificate file is a setup error: say so now, not at the first export.
            for (name, path) in [("CERTIFICATE", tls.certificateAuthority), ("CLIENT_CERTIFICATE", tls.clientCertificate),
                                 ("CLIENT_KEY", tls.clientKey)] {
                if let path, access(path, R_OK) != 0 {
                    throw ExportConfigurationError("OTEL_EXPORTER_OTLP_\(name)=\(path) cannot be read: \(String(cString: strerror(errno)))")
                }
            }
            let settings = OTLPExporter.Settings(
                transport: otlpProtocol, url: tracesURL, headers: headers, timeout: requestTimeout,
                gzip: compression == "gzip", tls: tls, warningInterval: batch.warningInterval)
            return try OTLPExporter(settings: settings, logger: logger)
        }
    }
}
