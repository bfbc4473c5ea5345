/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`, `--otlp-protocol`).
public enum OTLPProtocol: String, Equatable, Sendable, CaseIterable {
    /// `POST …/v1/traces`, protobuf body, HTTP/1.1 (or h2 over TLS).
    case httpProtobuf = "http/protobuf"
    /// Unary `TraceService/Export` over HTTP/2 (h2c, or TLS with ALPN).
    case grpc

    /// The RPC path every OTLP/gRPC export is posted to.
    static let grpcExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

    var displayName: String { self == .grpc ? "OTLP/gRPC" : "OTLP/HTTP protobuf" }
}
