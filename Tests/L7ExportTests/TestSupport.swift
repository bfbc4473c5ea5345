import Foundation
import L7Export
import L7Spans
import Logging
import Synchronization
import XCTest

/// A value a test shares with a closure that runs on another thread.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value { mutex.withLock { $0 } }

    func update(_ body: (inout Value) -> Void) { mutex.withLock { body(&$0) } }
}

/// Log lines an exporter or processor wrote, captured instead of printed.
final class CapturedLog: Sendable {
    private let lines = Locked<[String]>([])

    var messages: [String] { lines.value }

    func append(_ line: String) { lines.update { $0.append(line) } }

    func logger() -> Logger {
        Logger(label: "test") { _ in CapturingLogHandler(log: self) }
    }

    func messages(containing text: String) -> [String] { messages.filter { $0.contains(text) } }
}

struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        log.append("\(event.level) \(event.message)")
    }
}

enum Samples {
    static func span(name: String = "GET /users/*", pid: UInt32 = 100, id: UInt64 = 1, status: Int64? = 200,
                     kind: SpanKind = .server) -> SpanRecord {
        var attributes = [Attribute("http.request.method", .string("GET"))]
        if let status { attributes.append(Attribute("http.response.status_code", .int(status))) }
        return SpanRecord(traceID: TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736), spanID: SpanID(id),
                          parentSpanID: nil, name: name, kind: kind, startUnixNano: 1_700_000_000_000_000_000,
                          endUnixNano: 1_700_000_000_001_234_000, attributes: attributes, statusCode: .unset,
                          flags: 0x101, pid: pid)
    }

    static func resource(pid: UInt32 = 100, service: String = "nginx") -> ProcessResource {
        ProcessResource(pid: pid, attributes: [Attribute("service.name", .string(service)),
                                                Attribute("process.pid", .int(Int64(pid)))])
    }
}

/// Runs a Python snippet (or the receiver) with the official opentelemetry-proto package.
enum Python {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let receiverScript = repositoryRoot.appendingPathComponent("Tests/e2e/otlp_receiver.py")

    /// Skips the test when python3 or opentelemetry-proto is missing.
    static func requireOTLP() throws {
        let (status, _) = try run(["-c", "import opentelemetry.proto.collector.trace.v1.trace_service_pb2"])
        if status != 0 { throw XCTSkip("python3 with opentelemetry-proto is not installed (make test-deps)") }
    }

    /// Runs `python3 args…` with `input` on stdin (from a file, so no pipe can fill
    /// up while we wait); returns the exit status and stdout.
    static func run(_ arguments: [String], input: [UInt8] = []) throws -> (Int32, Data) {
        let inputFile = FileManager.default.temporaryDirectory.appendingPathComponent("l7trace-input-\(UUID().uuidString)")
        try Data(input).write(to: inputFile)
        defer { try? FileManager.default.removeItem(at: inputFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardInput = try FileHandle(forReadingFrom: inputFile)
        let stdout = Pipe()
        process.standardOutput = stdout
        do { try process.run() } catch { throw XCTSkip("cannot run python3: \(error)") }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}

/// The test receiver (Tests/e2e/otlp_receiver.py) in its own process.
final class ReceiverProcess {
    let process = Process()
    let port: Int
    let output: URL
    let requestLog: URL

    let grpc: Bool
    let tls: Bool

    /// Starts on `port` (0: any free port) and waits until it listens. With
    /// `grpc`, it serves OTLP/gRPC and `status` is a gRPC code.
    init(port: Int = 0, grpc: Bool = false, status: Int? = nil, rejected: Int = 0, retryAfter: Double? = nil,
         failFirst: Int? = nil, tls: TestCertificate? = nil) throws {
        try Python.requireOTLP()
        let name = "l7trace-receiver-\(UUID().uuidString)"
        output = FileManager.default.temporaryDirectory.appendingPathComponent(name + "-spans.jsonl")
        requestLog = FileManager.default.temporaryDirectory.appendingPathComponent(name + "-requests.jsonl")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        self.grpc = grpc
        self.tls = tls != nil
        var arguments = ["python3", Python.receiverScript.path, "--port", String(port), "--out", output.path,
                         "--requests", requestLog.path, "--rejected", String(rejected)]
        if grpc { arguments.append("--grpc") }
        if let status { arguments += ["--status", String(status)] }
        if let retryAfter { arguments += ["--retry-after", String(retryAfter)] }
        if let failFirst { arguments += ["--fail-first", String(failFirst)] }
        if let tls { arguments += ["--tls-cert", tls.certificate, "--tls-key", tls.key] }
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        // The receiver prints "listening on PORT" once its socket is bound.
        var line = Data()
        let handle = stdout.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8), text.hasPrefix("listening on "),
              let bound = Int(text.dropFirst("listening on ".count).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw XCTSkip("the test receiver did not start")
        }
        self.port = bound
    }

    /// `http[s]://127.0.0.1:PORT/v1/traces` for HTTP; for gRPC, the URL the exporter posts to.
    var tracesURL: String {
        grpc ? endpoint + "/opentelemetry.proto.collector.trace.v1.TraceService/Export" : endpoint + "/v1/traces"
    }

    var endpoint: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }

    /// Stops the receiver (by its PID) and waits for it to exit; one that
    /// has not exited 5 s after SIGTERM is killed, so no test hangs on it.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: output)
        try? FileManager.default.removeItem(at: requestLog)
    }

    /// The spans received so far, each as the receiver's flattened JSON object.
    func spans() -> [[String: Any]] { Self.jsonLines(output) }

    /// Every POST so far: path, headers, size, client_port.
    func requests() -> [[String: Any]] { Self.jsonLines(requestLog) }

    private static func jsonLines(_ file: URL) -> [[String: Any]] {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func waitForSpans(_ count: Int, timeout: TimeInterval = 10) -> [[String: Any]] {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var received = spans()
        while received.count < count && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            received = spans()
        }
        return received
    }
}

func eventually(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while !condition() {
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return true
}

/// A self-signed certificate for 127.0.0.1 and localhost, made with the
/// openssl command line in a temporary folder (removed on deinit).
final class TestCertificate {
    let folder: URL
    var certificate: String { folder.appendingPathComponent("cert.pem").path }
    var key: String { folder.appendingPathComponent("key.pem").path }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("l7trace-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                             "-keyout", folder.appendingPathComponent("key.pem").path,
                             "-out", folder.appendingPathComponent("cert.pem").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw XCTSkip("openssl is not installed") }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw XCTSkip("openssl could not make a test certificate") }
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}
