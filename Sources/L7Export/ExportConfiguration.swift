import Logging

/// Where spans go.
public enum ExporterKind: String, Equatable, Sendable {
    case otlp, console, none
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

    public var exporter: ExporterKind
    /// The full URL spans are POSTed to; meaningful for `.otlp`.
    public var tracesURL: String
    public var headers: [OTLPHeader]
    /// Per-request timeout (`OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`), seconds; 0 means no limit.
    public var timeout: Double
    /// `none` or `gzip`; only `none` is sent so far.
    public var compression: String
    public var batch: BatchConfiguration
    /// How long shutdown may spend flushing pending spans, seconds.
    public var shutdownTimeout: Double

    public init(exporter: ExporterKind = .console, tracesURL: String = ExportConfiguration.defaultTracesURL,
                headers: [OTLPHeader] = [], timeout: Double = 10, compression: String = "none",
                batch: BatchConfiguration = BatchConfiguration(), shutdownTimeout: Double = 10) {
        self.exporter = exporter; self.tracesURL = tracesURL; self.headers = headers; self.timeout = timeout
        self.compression = compression; self.batch = batch; self.shutdownTimeout = shutdownTimeout
    }

    /// Where spans go, for the ready line.
    public var destinationDescription: String {
        switch exporter {
        case .otlp: return tracesURL + " (OTLP/HTTP protobuf)"
        case .console: return "the console"
        case .none: return "nowhere (--exporter none)"
        }
    }

    /// Reads the settings. Precedence for the URL: `endpointFlag`, then
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as-is), then
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `v1/traces`). The exporter is
    /// `exporterFlag`, else `OTEL_TRACES_EXPORTER`, else `otlp` when an
    /// endpoint is configured and `console` when none is.
    ///
    /// The flag is a base URL like the generic variable, except that a URL
    /// already ending in `/v1/traces` is taken as it is.
    public static func fromEnvironment(_ env: [String: String], endpointFlag: String?, exporterFlag: String?) throws
        -> ExportConfiguration
    {
        func value(_ name: String) -> String? {
            guard let raw = env[name]?.trimmingASCIIWhitespace, !raw.isEmpty else { return nil }
            return raw
        }
        func traces(_ option: String) -> (name: String, value: String)? {
            for name in ["OTEL_EXPORTER_OTLP_TRACES_" + option, "OTEL_EXPORTER_OTLP_" + option] {
                if let found = value(name) { return (name, found) }
            }
            return nil
        }

        var configuration = ExportConfiguration()

        var endpoint: String?
        if let flag = endpointFlag?.trimmingASCIIWhitespace, !flag.isEmpty {
            try checkURL(flag, source: "--otlp-endpoint")
            endpoint = URLRules.hasTracesPath(flag) ? flag : URLRules.appendingTracesPath(flag)
        } else if let specific = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            try checkURL(specific, source: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            endpoint = URLRules.withNonEmptyPath(specific)
        } else if let generic = value("OTEL_EXPORTER_OTLP_ENDPOINT") {
            try checkURL(generic, source: "OTEL_EXPORTER_OTLP_ENDPOINT")
            endpoint = URLRules.appendingTracesPath(generic)
        }
        if let endpoint { configuration.tracesURL = endpoint }

        if let flag = exporterFlag {
            configuration.exporter = try exporterKind(flag, source: "--exporter")
        } else if let named = value("OTEL_TRACES_EXPORTER") {
            configuration.exporter = try exporterKind(named, source: "OTEL_TRACES_EXPORTER")
        } else {
            configuration.exporter = endpoint == nil ? .console : .otlp
        }

        if let (name, headers) = traces("HEADERS") {
            configuration.headers = try parseHeaders(headers, source: name)
        }
        if let (name, timeout) = traces("TIMEOUT") {
            configuration.timeout = Double(try count(timeout, source: name, unit: "milliseconds")) / 1000
        }
        if let (name, compression) = traces("COMPRESSION") {
            guard compression == "none" || compression == "gzip" else {
                throw ExportConfigurationError("\(name)=\(compression) is not supported; use none or gzip")
            }
            configuration.compression = compression
        }
        if configuration.exporter == .otlp, let (name, proto) = traces("PROTOCOL"), proto != "http/protobuf" {
            throw ExportConfigurationError("\(name)=\(proto) is not supported yet; use http/protobuf")
        }

        var batch = BatchConfiguration()
        if let delay = value("OTEL_BSP_SCHEDULE_DELAY") {
            batch.scheduleDelay = Double(try count(delay, source: "OTEL_BSP_SCHEDULE_DELAY", unit: "milliseconds")) / 1000
        }
        if let timeout = value("OTEL_BSP_EXPORT_TIMEOUT") {
            batch.exportTimeout = Double(try count(timeout, source: "OTEL_BSP_EXPORT_TIMEOUT", unit: "milliseconds")) / 1000
        }
        if let size = value("OTEL_BSP_MAX_QUEUE_SIZE") {
            batch.maxQueueSize = try count(size, source: "OTEL_BSP_MAX_QUEUE_SIZE", unit: "spans", positive: true)
        }
        if let size = value("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            batch.maxExportBatchSize = try count(size, source: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", unit: "spans", positive: true)
        }
        // The specification requires batch ≤ queue; a bigger batch could never fill.
        batch.maxExportBatchSize = min(batch.maxExportBatchSize, batch.maxQueueSize)
        configuration.batch = batch
        return configuration
    }

    /// The exporter these settings describe.
    public func makeExporter(logger: Logger) throws -> SpanExporter {
        switch exporter {
        case .none:
            return NoopSpanExporter()
        case .console:
            return ConsoleExporter()
        case .otlp:
            // The processor's export timeout bounds each request as well.
            let limits = [timeout, batch.exportTimeout].filter { $0 > 0 }
            return try OTLPHTTPExporter(url: tracesURL, headers: headers, timeout: limits.min() ?? 0, logger: logger)
        }
    }

    // MARK: Parsing helpers

    private static func exporterKind(_ text: String, source: String) throws -> ExporterKind {
        let name = text.trimmingASCIIWhitespace.lowercased()
        if let kind = ExporterKind(rawValue: name) { return kind }
        if name.contains(",") {
            throw ExportConfigurationError("\(source)=\(text): only one exporter at a time is supported; use otlp, console or none")
        }
        throw ExportConfigurationError("\(source)=\(text) is not a known exporter; use otlp, console or none")
    }

    private static func checkURL(_ url: String, source: String) throws {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), URLRules.authority(of: url)?.isEmpty == false else {
            throw ExportConfigurationError("\(source)=\(url) is not an http:// or https:// URL (e.g. http://localhost:4318)")
        }
    }

    private static func count(_ text: String, source: String, unit: String, positive: Bool = false) throws -> Int {
        guard let number = Int(text), number >= (positive ? 1 : 0) else {
            let range = positive ? "a positive" : "a non-negative"
            throw ExportConfigurationError("\(source)=\(text) is not valid; use \(range) whole number of \(unit)")
        }
        return number
    }

    /// `k1=v1,k2=v2` (the W3C Baggage form), keys and values percent-decoded.
    static func parseHeaders(_ text: String, source: String) throws -> [OTLPHeader] {
        var headers: [OTLPHeader] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: true) {
            let member = entry.trimmingASCIIWhitespace
            if member.isEmpty { continue }
            guard let equals = member.firstIndex(of: "="),
                  let name = percentDecoded(member[..<equals].trimmingASCIIWhitespace),
                  let value = percentDecoded(member[member.index(after: equals)...].trimmingASCIIWhitespace),
                  !name.isEmpty, name.utf8.allSatisfy(isHeaderNameByte)
            else {
                throw ExportConfigurationError("\(source) has a bad entry '\(member)'; use name=value pairs separated by commas")
            }
            headers.append(OTLPHeader(name: name, value: value))
        }
        return headers
    }

    private static func isHeaderNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// nil when a `%` is not followed by two hex digits or the result is not UTF-8.
    static func percentDecoded<S: StringProtocol>(_ text: S) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// The OTLP/HTTP URL rules of the exporter specification.
enum URLRules {
    /// `scheme://authority` part's authority, nil without `://`.
    static func authority(of url: String) -> Substring? {
        guard let separator = url.range(of: "://") else { return nil }
        let rest = url[separator.upperBound...]
        return rest[..<(rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex)]
    }

    /// Base URL + `v1/traces`, with exactly one `/` between them.
    static func appendingTracesPath(_ base: String) -> String {
        (base.hasSuffix("/") ? base : base + "/") + "v1/traces"
    }

    /// The URL as-is, but with `/` for an empty path.
    static func withNonEmptyPath(_ url: String) -> String {
        guard let authority = authority(of: url) else { return url }
        let rest = url[authority.endIndex...]
        return rest.hasPrefix("/") ? url : url[..<authority.endIndex] + "/" + rest
    }

    static func hasTracesPath(_ url: String) -> Bool {
        url.hasSuffix("/v1/traces") || url.hasSuffix("/v1/traces/")
    }
}

extension StringProtocol {
    var trimmingASCIIWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
