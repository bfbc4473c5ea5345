import L7Basics

/// Reading an `ExportConfiguration` from the command line's flags and the
/// standard `OTEL_*` variables (kept apart from the value it produces).
extension ExportConfiguration {
    /// Reads the settings. Precedence for the URL: `endpointFlag`, then
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as-is), then
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `v1/traces`). The exporter is
    /// `exporterFlag`, else `OTEL_TRACES_EXPORTER`, else `otlp` when an
    /// endpoint is configured and `console` when none is.
    ///
    /// The flag is a base URL like the generic variable, except that a URL
    /// already ending in `/v1/traces` is taken as it is.
    public static func fromEnvironment(_ env: [String: String], endpointFlag: String?, exporterFlag: String?,
                                       protocolFlag: String? = nil, outputFlag: String? = nil) throws
        -> ExportConfiguration
    {
        func value(_ name: String) -> String? {
            guard let raw = env[name].map(trimmed), !raw.isEmpty else { return nil }
            return raw
        }
        func traces(_ option: String) -> (name: String, value: String)? {
            for name in ["OTEL_EXPORTER_OTLP_TRACES_" + option, "OTEL_EXPORTER_OTLP_" + option] {
                if let found = value(name) { return (name, found) }
            }
            return nil
        }

        var configuration = ExportConfiguration()

        let endpointSetting: (source: String, value: String, specific: Bool)?
        if let flag = endpointFlag.map(trimmed), !flag.isEmpty {
            endpointSetting = ("--otlp-endpoint", flag, false)
        } else if let specific = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            endpointSetting = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific, true)
        } else if let generic = value("OTEL_EXPORTER_OTLP_ENDPOINT") {
            endpointSetting = ("OTEL_EXPORTER_OTLP_ENDPOINT", generic, false)
        } else {
            endpointSetting = nil
        }

        if let flag = exporterFlag {
            configuration.exporter = try exporterKind(flag, source: "--exporter")
        } else if let named = value("OTEL_TRACES_EXPORTER") {
            configuration.exporter = try exporterKind(named, source: "OTEL_TRACES_EXPORTER")
        } else {
            configuration.exporter = endpointSetting == nil ? .console : .otlp
        }

        let protocolSetting = protocolFlag.map { ("--otlp-protocol", trimmed($0)) } ?? traces("PROTOCOL")
        if let (name, text) = protocolSetting {
            if let known = OTLPProtocol(rawValue: text.lowercased()) {
                configuration.otlpProtocol = known
            } else if configuration.exporter == .otlp || name == "--otlp-protocol" {
                throw ExportConfigurationError("\(name)=\(text) is not supported; use grpc or http/protobuf")
            }
        }

        switch configuration.otlpProtocol {
        case .httpProtobuf:
            if let (source, url, specific) = endpointSetting {
                try checkURL(url, source: source)
                if specific {
                    configuration.tracesURL = URLRules.withNonEmptyPath(url)
                } else if source == "--otlp-endpoint" && URLRules.hasTracesPath(url) {
                    configuration.tracesURL = url
                } else {
                    configuration.tracesURL = URLRules.appendingTracesPath(url)
                }
            }
        case .grpc:
            let insecure = try traces("INSECURE").map { try boolean($0.value, source: $0.name) } ?? false
            let endpoint = try endpointSetting.map { try grpcEndpoint($0.value, source: $0.source, insecure: insecure) }
            configuration.tracesURL = (endpoint ?? defaultGRPCEndpoint) + OTLPProtocol.grpcExportPath
        }

        if let path = outputFlag.map(trimmed), !path.isEmpty {
            configuration.outputPath = path
            if exporterFlag == nil && value("OTEL_TRACES_EXPORTER") == nil { configuration.exporter = .file }
        }
        configuration.tls = TLSFiles(certificateAuthority: traces("CERTIFICATE")?.value,
                                     clientCertificate: traces("CLIENT_CERTIFICATE")?.value,
                                     clientKey: traces("CLIENT_KEY")?.value)
        if (configuration.tls.clientCertificate == nil) != (configuration.tls.clientKey == nil) {
            throw ExportConfigurationError("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together; set both or neither")
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

    // MARK: Parsing helpers

    /// Without surrounding spaces, tabs, CRs and LFs (a variable set from a file often ends in a newline).
    private static func trimmed(_ text: String) -> String { String(ASCIIWhitespace.trimmingWhitespace(text)) }

    private static func exporterKind(_ text: String, source: String) throws -> ExporterKind {
        let name = trimmed(text).lowercased()
        if let kind = ExporterKind(rawValue: name) { return kind }
        if name.contains(",") {
            throw ExportConfigurationError("\(source)=\(text): only one exporter at a time is supported; use otlp, console, file or none")
        }
        throw ExportConfigurationError("\(source)=\(text) is not a known exporter; use otlp, console, file or none")
    }

    private static func boolean(_ text: String, source: String) throws -> Bool {
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw ExportConfigurationError("\(source)=\(text) is not valid; use true or false")
        }
    }

    /// `scheme://host:port` of a gRPC collector. `http://` is plaintext and
    /// `https://` TLS whatever INSECURE says; without a scheme, TLS unless
    /// `OTEL_EXPORTER_OTLP_[TRACES_]INSECURE=true`. A path is not part of a
    /// gRPC target and is dropped.
    static func grpcEndpoint(_ text: String, source: String, insecure: Bool) throws -> String {
        let lower = text.lowercased()
        let url: String
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            url = text
        } else if text.contains("://") {
            throw ExportConfigurationError("\(source)=\(text) is not an http:// or https:// endpoint (e.g. http://localhost:4317)")
        } else {
            url = (insecure ? "http://" : "https://") + text
        }
        guard let authority = URLRules.authority(of: url), !authority.isEmpty else {
            throw ExportConfigurationError("\(source)=\(text) has no host (e.g. http://localhost:4317)")
        }
        return String(url[..<authority.endIndex])
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
            let member = ASCIIWhitespace.trimmingWhitespace(entry)
            if member.isEmpty { continue }
            guard let equals = member.firstIndex(of: "="),
                  let name = percentDecoded(ASCIIWhitespace.trimmingWhitespace(member[..<equals])),
                  let value = percentDecoded(ASCIIWhitespace.trimmingWhitespace(member[member.index(after: equals)...])),
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
    static func percentDecoded<S: StringProtocol>(_ text: S) -> String? { PercentDecoding.decodeUTF8(text) }
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
