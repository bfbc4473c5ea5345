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

    @Option(help: "Where spans go: otlp, console, file or none (default: otlp when an endpoint is configured, else console; OTEL_TRACES_EXPORTER).")
    var exporter: String?

    @Option(name: .customLong("otlp-endpoint"), help: "OTLP endpoint: for http/protobuf a base URL, e.g. http://localhost:4318 (spans go to <url>/v1/traces); for grpc http[s]://host:port.")
    var otlpEndpoint: String?

    @Option(name: .customLong("otlp-protocol"), help: "OTLP protocol: http/protobuf (default) or grpc (OTEL_EXPORTER_OTLP_PROTOCOL).")
    var otlpProtocol: String?

    @Option(help: "With --exporter file: write OTLP JSON lines to this file (appended), or - for standard output.")
    var output: String?

    @Option(name: .customLong("metrics-port"), help: "Serve the tracer's own counters for Prometheus on this port (GET /metrics).")
    var metricsPort: UInt16?

    @Option(name: .customLong("metrics-address"), help: "Address the metrics endpoint binds to (default 127.0.0.1).")
    var metricsAddress: String = "127.0.0.1"

    @Option(name: .customLong("stats-interval"), help: "Seconds between the one-line stats logs; 0 turns them off (default 60; L7TRACE_STATS_INTERVAL).")
    var statsInterval: Double?

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: .customLong("route"), help: "A route template such as /users/{id}/orders; matching paths take it as http.route. Repeatable.")
    var routes: [String] = []

    @Option(name: .customLong("redact-query-param"), help: "Also redact the value of query or matrix parameters with this name (case-insensitive; repeatable or comma-separated; adds to \(URLRedaction.extraNamesVariable)).")
    var redactQueryParams: [String] = []

    @Flag(name: .customLong("omit-url-query"), help: "Leave URL queries out of spans: no url.query, no query in url.full (\(URLRedaction.omitQueryVariable)=true).")
    var omitURLQuery = false

    @Option(name: .customLong("capture-bytes"), help: "Bytes of each read or write copied from the kernel (256-16384).")
    var captureBytes: Int = 4096

    @Flag(name: .customLong("no-link"), help: "Do not link spans across processes and inside them: each span keeps the trace its request's headers give it.")
    var noLink = false

    @Flag(name: .customLong("dump-events"), help: "Print every capture event (debugging).")
    var dumpEvents = false

    @Flag(name: .shortAndLong, help: "Log more.")
    var verbose = false

    func validate() throws {
        guard (256...16384).contains(captureBytes) else {
            throw ValidationError("--capture-bytes must be between 256 and 16384")
        }
        if let statsInterval, statsInterval < 0 { throw ValidationError("--stats-interval must be 0 or more") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
    }

    func run() throws {
        SignalWatcher.blockStopSignals()
        let stopRequest = ManagedAtomicFlag()
        let signals = SignalWatcher(onFirst: { stopRequest.set() }, onSecond: { number in
            FileHandle.standardError.write("l7trace: second signal \(number): exiting without flushing\n".data(using: .utf8)!)
            _exit(128 + number)
        })
        LoggingSystem.bootstrap { _ in StderrLogHandler() }
        var logger = Logger(label: "l7trace")
        logger.logLevel = verbose ? .debug : .info

        let environment = Foundation.ProcessInfo.processInfo.environment
        let export: ExportConfiguration
        do {
            export = try ExportConfiguration.fromEnvironment(environment, endpointFlag: otlpEndpoint, exporterFlag: exporter,
                                                             protocolFlag: otlpProtocol, outputFlag: output)
        } catch {
            Self.fail("\(error)", code: 2)
        }
        var spanOptions = SpanOptions()
        spanOptions.routePatterns = routes
        spanOptions.knownMethods = SpanOptions.knownMethods(environmentValue: environment["OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"])
        spanOptions.rpcConventions = SpanOptions.rpcConventions(environmentValue: environment["OTEL_SEMCONV_STABILITY_OPT_IN"])
        spanOptions.urlRedaction = URLRedaction(environment: environment, extraNames: redactQueryParams.flatMap(URLRedaction.names(fromList:)),
                                                omitQuery: omitURLQuery)

        var interval = statsInterval ?? 60
        if statsInterval == nil, let text = environment["L7TRACE_STATS_INTERVAL"], !text.isEmpty {
            guard let value = Double(text), value >= 0 else { Self.fail("L7TRACE_STATS_INTERVAL=\(text) is not valid; use seconds, 0 for never", code: 2) }
            interval = value
        }
        var configuration = TracerConfiguration(
            selection: ProcessSelection(pids: Set(pids), serviceGlobs: services, excludedServiceGlobs: excludedServices),
            ports: ports,
            export: export,
            spanOptions: spanOptions,
            captureBytesPerCall: captureBytes,
            duration: duration,
            dumpEvents: dumpEvents
        )
        configuration.metricsPort = metricsPort
        configuration.metricsAddress = metricsAddress
        configuration.statsInterval = interval
        configuration.linking = !noLink

        let tracer: Tracer
        do {
            tracer = try Tracer(configuration: configuration, logger: logger, stopRequested: stopRequest)
        } catch let error as CaptureError {
            Self.fail("\(error)", code: 1)
        } catch {
            Self.fail("\(error)", code: 1)
        }

        tracer.run()
        withExtendedLifetime(signals) {}
    }

    static func fail(_ message: String, code: Int32) -> Never {
        let line = message.hasPrefix("l7trace:") ? message : "l7trace: \(message)"
        FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
        Foundation.exit(code)
    }
}
