import L7Export
import XCTest

/// The protocol, gRPC endpoint, TLS, compression and file settings.
final class TransportConfigurationTests: XCTestCase {
    private func configuration(_ env: [String: String], endpoint: String? = nil, exporter: String? = nil,
                               protocolFlag: String? = nil, output: String? = nil) throws -> ExportConfiguration {
        try ExportConfiguration.fromEnvironment(env, endpointFlag: endpoint, exporterFlag: exporter,
                                                protocolFlag: protocolFlag, outputFlag: output)
    }

    private let export = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

    func testHTTPProtobufIsTheDefaultProtocol() throws {
        let settings = try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"])
        XCTAssertEqual(settings.otlpProtocol, .httpProtobuf)
        XCTAssertEqual(settings.destinationDescription, "http://c:4318/v1/traces (OTLP/HTTP protobuf)")
    }

    func testGRPCGoesToTheLocalAgentOn4317ByDefault() throws {
        let settings = try configuration(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"], exporter: "otlp")
        XCTAssertEqual(settings.otlpProtocol, .grpc)
        XCTAssertEqual(settings.tracesURL, "http://localhost:4317" + export)
        XCTAssertEqual(settings.destinationDescription, "http://localhost:4317 (OTLP/gRPC)")
    }

    func testTheFlagAndTheTracesVariableWinForTheProtocol() throws {
        let env = ["OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
                   "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"]
        XCTAssertEqual(try configuration(env).otlpProtocol, .grpc)
        XCTAssertEqual(try configuration(env, protocolFlag: "http/protobuf").otlpProtocol, .httpProtobuf)
    }

    func testAGRPCEndpointIsSchemeHostAndPortWithoutTracesPath() throws {
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"], protocolFlag: "grpc").tracesURL,
                       "http://c:4317" + export)
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://gw.example:443/"], protocolFlag: "grpc")
            .tracesURL, "https://gw.example:443" + export)
        XCTAssertEqual(try configuration([:], endpoint: "http://127.0.0.1:9", protocolFlag: "grpc").tracesURL,
                       "http://127.0.0.1:9" + export)
    }

    func testASchemelessGRPCEndpointIsTLSUnlessInsecure() throws {
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317"], protocolFlag: "grpc").tracesURL,
                       "https://c:4317" + export)
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true"],
                                         protocolFlag: "grpc").tracesURL, "http://c:4317" + export)
        // A scheme beats INSECURE.
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4317", "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true"],
                                         protocolFlag: "grpc").tracesURL, "https://c:4317" + export)
    }

    func testCertificatesCompressionAndTheirTracesForms() throws {
        let settings = try configuration([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/generic/ca.pem", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/traces/ca.pem",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/me.pem", "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/me.key",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        ])
        XCTAssertEqual(settings.tls, TLSFiles(certificateAuthority: "/traces/ca.pem", clientCertificate: "/me.pem", clientKey: "/me.key"))
        XCTAssertEqual(settings.compression, "gzip")
        XCTAssertEqual(settings.destinationDescription, "https://c:4318/v1/traces (OTLP/HTTP protobuf, gzip)")
    }

    func testAnUnreadableCertificateIsOneClearLineAtStart() throws {
        let settings = try configuration(["OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"], endpoint: "https://c:4318")
        XCTAssertThrowsError(try settings.makeExporter(logger: CapturedLog().logger())) { error in
            XCTAssertEqual("\(error)", "l7trace: OTEL_EXPORTER_OTLP_CERTIFICATE=/nonexistent/ca.pem cannot be read: No such file or directory")
        }
    }

    func testFileOutput() throws {
        let file = try configuration([:], exporter: "file", output: "/tmp/spans.jsonl")
        XCTAssertEqual(file.exporter, .file)
        XCTAssertEqual(file.destinationDescription, "/tmp/spans.jsonl (OTLP JSON lines)")
        XCTAssertEqual(try configuration([:], exporter: "file").destinationDescription, "standard output (OTLP JSON lines)")
        XCTAssertEqual(try configuration(["OTEL_TRACES_EXPORTER": "file"]).exporter, .file)
        XCTAssertEqual(try configuration([:], output: "-").exporter, .file, "--output alone means the file exporter")
    }

    func testTheShutdownFlushGetsOneExportTimeout() throws {
        XCTAssertEqual(try configuration([:]).shutdownTimeout, 10)
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_TIMEOUT": "3000"]).shutdownTimeout, 3)
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_TIMEOUT": "0", "OTEL_BSP_EXPORT_TIMEOUT": "0"]).shutdownTimeout, 30)
    }
}
