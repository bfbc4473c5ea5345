import Logging
import L7Spans
import Synchronization

/// Sends spans to an OTLP collector, as OTLP/HTTP protobuf (`POST
/// …/v1/traces`) or OTLP/gRPC (`TraceService/Export`), through libcurl.
///
/// Both protocols share the encoder, the optional gzip step and one
/// long-lived curl handle; they differ only in headers, the 5-byte gRPC
/// message prefix and how the answer is read (`OTLPHTTPResponse`,
/// `OTLPGRPCResponse`). Each call blocks the calling thread (the batch
/// processor's) for at most `timeout`.
public final class OTLPExporter: SpanExporter {
    public struct Settings: Equatable, Sendable {
        public var transport: OTLPProtocol
        /// The URL posted to: `…/v1/traces`, or `…/opentelemetry.proto.collector.trace.v1.TraceService/Export`.
        public var url: String
        public var headers: [OTLPHeader]
        /// Seconds for one request; 0 means no limit.
        public var timeout: Double
        public var gzip: Bool
        public var tls: TLSFiles
        /// A partial-success warning is logged at most once per this many seconds.
        public var warningInterval: Double

        public init(transport: OTLPProtocol = .httpProtobuf, url: String, headers: [OTLPHeader] = [], timeout: Double = 10,
                    gzip: Bool = false, tls: TLSFiles = TLSFiles(), warningInterval: Double = 10) {
            self.transport = transport; self.url = url; self.headers = headers; self.timeout = timeout
            self.gzip = gzip; self.tls = tls; self.warningInterval = warningInterval
        }
    }

    /// OTLP's limit on a request; a bigger one is refused rather than sent.
    static let maxRequestBytes = 64 << 20
    private static let grpcPrefixBytes = 5

    public let settings: Settings
    public var url: String { settings.url }
    private let logger: Logger
    /// The encoder, the gzip stream and the curl handle serve one export at
    /// a time: the mutex owns them, so only a locked export can reach them.
    private let state: Mutex<State>

    private struct State {
        var isShutDown = false
        var partialSuccessWarnings: RateLimiter
        let encoder = OTLPWireEncoder()
        let compressor: GzipCompressor?
        let connection: CurlConnection
    }

    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let compressor = settings.gzip ? try GzipCompressor() : nil

        var lines: [String] = []
        switch settings.transport {
        case .httpProtobuf:
            lines = ["Content-Type: application/x-protobuf", "Expect:"]
            if settings.gzip { lines.append("Content-Encoding: gzip") }
        case .grpc:
            lines = ["Content-Type: application/grpc", "TE: trailers", "Expect:"]
            if settings.gzip { lines.append("grpc-encoding: gzip") }
            // The server stops work the client no longer waits for.
            if settings.timeout > 0 { lines.append("grpc-timeout: \(max(1, Int(settings.timeout * 1000)))m") }
        }
        lines += settings.headers.map { "\($0.name): \($0.value)" }
        let connection = try CurlConnection(CurlConnection.Settings(
            url: settings.url, requireHTTP2: settings.transport == .grpc, headerLines: lines,
            userAgent: "OTel-OTLP-Exporter-Swift/\(L7TraceVersion.current) l7trace/\(L7TraceVersion.current)",
            timeout: settings.timeout, tls: settings.tls))
        state = Mutex(State(partialSuccessWarnings: RateLimiter(interval: settings.warningInterval),
                            compressor: compressor, connection: connection))
    }

    /// OTLP/HTTP protobuf to `url`, kept for callers that need nothing else.
    public convenience init(url: String, headers: [OTLPHeader] = [], timeout: Double = 10, logger: Logger,
                            warningInterval: Double = 10) throws {
        try self.init(settings: Settings(url: url, headers: headers, timeout: timeout, warningInterval: warningInterval),
                      logger: logger)
    }

    public func export(_ batches: [ResourceBatch]) -> ExportResult {
        state.withLock { state in
            guard !state.isShutDown else { return .permanentFailure("the exporter is shut down") }
            let headroom = settings.transport == .grpc ? Self.grpcPrefixBytes : 0
            let connection = state.connection
            let outcome = state.encoder.withEncodedRequest(batches, headroom: headroom) { request -> ExportOutcome in
                guard let compressor = state.compressor else {
                    return send(request, on: connection, headroom: headroom, compressed: false)
                }
                let message = UnsafeRawBufferPointer(rebasing: request[headroom...])
                return compressor.withCompressed(message, headroom: headroom) {
                    send($0, on: connection, headroom: headroom, compressed: true)
                } ?? ExportOutcome(.permanentFailure("cannot export to \(url): gzip compression failed"))
            }
            if let warning = outcome.partialSuccessWarning, state.partialSuccessWarnings.allow() {
                logger.warning("l7trace: \(warning)")
            }
            return outcome.result
        }
    }

    public func shutdown() {
        state.withLock { $0.isShutDown = true }
    }

    /// Frames (gRPC) and posts one request, then reads the answer.
    private func send(_ request: UnsafeMutableRawBufferPointer, on connection: CurlConnection, headroom: Int,
                      compressed: Bool) -> ExportOutcome {
        let messageBytes = request.count - headroom
        guard messageBytes <= Self.maxRequestBytes else {
            return ExportOutcome(.permanentFailure(
                "cannot export to \(url): the request is \(messageBytes) bytes, over OTLP's 64 MiB limit (lower OTEL_BSP_MAX_EXPORT_BATCH_SIZE)"))
        }
        if settings.transport == .grpc {
            request[0] = compressed ? 1 : 0
            let length = UInt32(messageBytes).bigEndian
            withUnsafeBytes(of: length) { UnsafeMutableRawBufferPointer(rebasing: request[1..<5]).copyMemory(from: $0) }
        }
        switch connection.post(UnsafeRawBufferPointer(request)) {
        case .transportFailure(let failure):
            return .transportFailure(failure, url: url)
        case .response(let response):
            switch settings.transport {
            case .httpProtobuf: return OTLPHTTPResponse.outcome(response, url: url)
            case .grpc: return OTLPGRPCResponse.outcome(response, url: url)
            }
        }
    }
}
