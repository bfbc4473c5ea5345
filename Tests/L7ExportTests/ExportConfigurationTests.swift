import L7Export
import XCTest

final class ExportConfigurationTests: XCTestCase {
    private func configuration(_ env: [String: String], endpoint: String? = nil, exporter: String? = nil) throws
        -> ExportConfiguration
    {
        try ExportConfiguration.fromEnvironment(env, endpointFlag: endpoint, exporterFlag: exporter)
    }

    private func error(_ env: [String: String], endpoint: String? = nil, exporter: String? = nil) -> String? {
        do {
            _ = try configuration(env, endpoint: endpoint, exporter: exporter)
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: Endpoint rules

    func testTheGenericEndpointIsABaseURL() throws {
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"]).tracesURL, "http://c:4318/v1/traces")
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"]).tracesURL, "http://c:4318/v1/traces")
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/x/"]).tracesURL,
                       "http://c:4318/x/v1/traces")
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "https://c/x"]).tracesURL, "https://c/x/v1/traces")
    }

    func testTheTracesEndpointIsUsedAsIsWithAnEmptyPathBecomingSlash() throws {
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom/path"]).tracesURL,
                       "http://c:4318/custom/path")
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318"]).tracesURL, "http://c:4318/")
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318?a=b"]).tracesURL,
                       "http://c:4318/?a=b")
    }

    func testTheTracesEndpointWinsOverTheGenericOne() throws {
        let env = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:1/t"]
        XCTAssertEqual(try configuration(env).tracesURL, "http://traces:1/t")
    }

    func testTheFlagWinsOverBothVariables() throws {
        let env = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:1/t"]
        XCTAssertEqual(try configuration(env, endpoint: "http://flag:4318").tracesURL, "http://flag:4318/v1/traces")
        XCTAssertEqual(try configuration(env, endpoint: "http://flag:4318/v1/traces").tracesURL,
                       "http://flag:4318/v1/traces", "a full traces URL is not extended twice")
    }

    func testEmptyVariablesCountAsUnset() throws {
        let settings = try configuration(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:1"])
        XCTAssertEqual(settings.tracesURL, "http://g:1/v1/traces")
    }

    // MARK: Which exporter

    func testTheConsoleIsTheDefaultWithoutAnEndpoint() throws {
        let settings = try configuration([:])
        XCTAssertEqual(settings.exporter, .console)
        XCTAssertEqual(settings.destinationDescription, "the console")
    }

    func testOTLPIsTheDefaultOnceAnEndpointIsConfigured() throws {
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"]).exporter, .otlp)
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"]).exporter, .otlp)
        let flagged = try configuration([:], endpoint: "http://127.0.0.1:18123")
        XCTAssertEqual(flagged.exporter, .otlp)
        XCTAssertEqual(flagged.destinationDescription, "http://127.0.0.1:18123/v1/traces (OTLP/HTTP protobuf)")
    }

    func testAnExplicitExporterWins() throws {
        XCTAssertEqual(try configuration(["OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"]).exporter, .none)
        XCTAssertEqual(try configuration(["OTEL_TRACES_EXPORTER": "console"], endpoint: "http://c").exporter, .console)
        XCTAssertEqual(try configuration(["OTEL_TRACES_EXPORTER": "console"], exporter: "otlp").exporter, .otlp)
        XCTAssertEqual(try configuration(["OTEL_TRACES_EXPORTER": "OTLP"]).exporter, .otlp)
    }

    func testOTLPWithoutAnEndpointGoesToTheLocalCollector() throws {
        XCTAssertEqual(try configuration([:], exporter: "otlp").tracesURL, "http://localhost:4318/v1/traces")
    }

    // MARK: Headers, timeouts, batching

    func testHeadersArePercentDecodedPairs() throws {
        let settings = try configuration(["OTEL_EXPORTER_OTLP_HEADERS": " api-key = secret%3D1 ,x-tenant=a%2Cb,, Authorization=Basic%20dXM6cHc="])
        XCTAssertEqual(settings.headers, [
            OTLPHeader(name: "api-key", value: "secret=1"),
            OTLPHeader(name: "x-tenant", value: "a,b"),
            OTLPHeader(name: "Authorization", value: "Basic dXM6cHc="),
        ])
    }

    func testTracesHeadersReplaceTheGenericOnes() throws {
        let settings = try configuration(["OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2"])
        XCTAssertEqual(settings.headers, [OTLPHeader(name: "b", value: "2")])
    }

    func testTimeoutsAndBatchSettingsAreMilliseconds() throws {
        let settings = try configuration([
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1500",
            "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BSP_EXPORT_TIMEOUT": "7000",
            "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
        ])
        XCTAssertEqual(settings.timeout, 1.5)
        XCTAssertEqual(settings.batch.scheduleDelay, 0.2)
        XCTAssertEqual(settings.batch.exportTimeout, 7)
        XCTAssertEqual(settings.batch.maxQueueSize, 100)
        XCTAssertEqual(settings.batch.maxExportBatchSize, 10)
    }

    func testDefaultsFollowTheSpecification() throws {
        let settings = try configuration([:])
        XCTAssertEqual(settings.timeout, 10)
        XCTAssertEqual(settings.headers, [])
        XCTAssertEqual(settings.batch.scheduleDelay, 5)
        XCTAssertEqual(settings.batch.exportTimeout, 30)
        XCTAssertEqual(settings.batch.maxQueueSize, 2048)
        XCTAssertEqual(settings.batch.maxExportBatchSize, 512)
    }

    func testABatchLargerThanTheQueueIsCappedToIt() throws {
        let settings = try configuration(["OTEL_BSP_MAX_QUEUE_SIZE": "50", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512"])
        XCTAssertEqual(settings.batch.maxExportBatchSize, 50)
    }

    // MARK: Bad values: one clear line each

    func testBadValuesAreOneClearLine() {
        let cases: [([String: String], String?, String?, String)] = [
            (["OTEL_TRACES_EXPORTER": "zipkin"], nil, nil, "OTEL_TRACES_EXPORTER=zipkin is not a known exporter; use otlp, console, file or none"),
            ([:], nil, "jaeger", "--exporter=jaeger is not a known exporter"),
            (["OTEL_TRACES_EXPORTER": "otlp,console"], nil, nil, "only one exporter at a time"),
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"], nil, nil,
             "OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318 is not an http:// or https:// URL"),
            ([:], "ftp://c", nil, "--otlp-endpoint=ftp://c is not an http:// or https:// URL"),
            (["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://"], nil, nil, "is not an http:// or https:// URL"),
            (["OTEL_EXPORTER_OTLP_TIMEOUT": "10s"], nil, nil, "OTEL_EXPORTER_OTLP_TIMEOUT=10s is not valid; use a non-negative whole number of milliseconds"),
            (["OTEL_BSP_MAX_QUEUE_SIZE": "0"], nil, nil, "OTEL_BSP_MAX_QUEUE_SIZE=0 is not valid; use a positive whole number of spans"),
            (["OTEL_BSP_SCHEDULE_DELAY": "-1"], nil, nil, "OTEL_BSP_SCHEDULE_DELAY=-1 is not valid"),
            (["OTEL_EXPORTER_OTLP_HEADERS": "novalue"], nil, nil, "OTEL_EXPORTER_OTLP_HEADERS has a bad entry 'novalue'"),
            (["OTEL_EXPORTER_OTLP_HEADERS": "k=%zz"], nil, nil, "bad entry 'k=%zz'"),
            (["OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"], nil, nil, "OTEL_EXPORTER_OTLP_COMPRESSION=brotli is not supported"),
            (["OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"], "http://c:4318", nil,
             "OTEL_EXPORTER_OTLP_PROTOCOL=http/json is not supported; use grpc or http/protobuf"),
            (["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://c:4317"], nil, nil,
             "OTEL_EXPORTER_OTLP_ENDPOINT=ftp://c:4317 is not an http:// or https:// endpoint"),
            (["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_INSECURE": "yes"], "c:4317", nil,
             "OTEL_EXPORTER_OTLP_INSECURE=yes is not valid; use true or false"),
            (["OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem"], "https://c", nil,
             "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together"),
        ]
        for (env, endpoint, exporter, expected) in cases {
            guard let message = error(env, endpoint: endpoint, exporter: exporter) else {
                XCTFail("\(env) \(endpoint ?? "") \(exporter ?? "") was accepted")
                continue
            }
            XCTAssertTrue(message.hasPrefix("l7trace: "), message)
            XCTAssertTrue(message.contains(expected), "\(message) does not say \(expected)")
            XCTAssertFalse(message.contains("\n"), message)
        }
    }

    func testAProtocolOnlyMattersForOTLP() throws {
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]).exporter, .console)
        XCTAssertEqual(try configuration(["OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"], exporter: "otlp").exporter, .otlp)
    }
}
