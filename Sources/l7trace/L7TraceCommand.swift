import ArgumentParser
import Foundation
import L7Capture
import L7Export
import L7Spans
import Logging

@main
struct L7TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l7trace",
        abstract: "Trace the HTTP requests of this host's processes from the kernel and export them as OpenTelemetry spans.",
        discussion: """
        With no selection every process on the host is traced. Selections of one kind add up \
        (--pid 1 --pid 2 traces both); different kinds must all hold (--service nginx --port 8080 \
        traces nginx's traffic on port 8080). Spans go to the console unless an OTLP endpoint is \
        configured (--otlp-endpoint, OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
        """,
        version: L7TraceVersion.current
    )

    @Option(name: .customLong("pid"), help: "Trace this process (and the children it forks). Repeatable.")
    var pids: [UInt32] = []

    @Option(name: .customLong("port"), help: "Trace connections whose local or remote TCP port is this one. Repeatable.")
    var ports: [UInt16] = []

    @Option(name: .customLong("service"), help: "Trace processes whose service name matches this glob (*, ?, [..]). Repeatable.")
    var services: [String] = []

    @Option(name: .customLong("exclude-service"), help: "Never trace processes whose service name matches this glob. Repeatable.")
    var excludedServices: [String] = []

    @Option(help: "Where spans go: otlp, console or none (default: otlp when an endpoint is configured, else console; OTEL_TRACES_EXPORTER).")
    var exporter: String?

    @Option(name: .customLong("otlp-endpoint"), help: "OTLP/HTTP base URL, e.g. http://localhost:4318 (spans go to <url>/v1/traces).")
    var otlpEndpoint: String?

    @Option(name: .customLong("otlp-protocol"), help: "OTLP protocol: http/protobuf (the only one so far).")
    var otlpProtocol: String?

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: .customLong("route"), help: "A route template such as /users/{id}/orders; matching paths take it as http.route. Repeatable.")
    var routes: [String] = []

    @Option(name: .customLong("capture-bytes"), help: "Bytes of each read or write copied from the kernel (256-16384).")
    var captureBytes: Int = 4096

    @Flag(name: .customLong("dump-events"), help: "Print every capture event (debugging).")
    var dumpEvents = false

    @Flag(name: .shortAndLong, help: "Log more.")
    var verbose = false

    func validate() throws {
        guard (256...16384).contains(captureBytes) else {
            throw ValidationError("--capture-bytes must be between 256 and 16384")
        }
        if let otlpProtocol, otlpProtocol != "http/protobuf" {
            throw ValidationError("--otlp-protocol \(otlpProtocol) is not supported yet; use http/protobuf")
        }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        var logger = Logger(label: "l7trace")
        logger.logLevel = verbose ? .debug : .info

        let environment = Foundation.ProcessInfo.processInfo.environment
        let export: ExportConfiguration
        do {
            export = try ExportConfiguration.fromEnvironment(environment, endpointFlag: otlpEndpoint, exporterFlag: exporter)
        } catch {
            Self.fail("\(error)", code: 2)
        }
        var spanOptions = SpanOptions()
        spanOptions.routePatterns = routes
        spanOptions.knownMethods = SpanOptions.knownMethods(environmentValue: environment["OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"])

        let configuration = TracerConfiguration(
            selection: ProcessSelection(pids: Set(pids), serviceGlobs: services, excludedServiceGlobs: excludedServices),
            ports: ports,
            export: export,
            spanOptions: spanOptions,
            captureBytesPerCall: captureBytes,
            duration: duration,
            dumpEvents: dumpEvents
        )

        let tracer: Tracer
        do {
            tracer = try Tracer(configuration: configuration, logger: logger)
        } catch let error as CaptureError {
            Self.fail("\(error)", code: 1)
        } catch {
            Self.fail("\(error)", code: 1)
        }

        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { tracer.requestStop() }
        tracer.run()
        withExtendedLifetime(signals) {}
    }

    static func fail(_ message: String, code: Int32) -> Never {
        let line = message.hasPrefix("l7trace:") ? message : "l7trace: \(message)"
        FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
        Foundation.exit(code)
    }
}
