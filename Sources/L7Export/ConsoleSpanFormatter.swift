import Glibc
import L7Spans

/// Turns a span into the one line the console exporter prints:
///
///     2026-11-24T20:59:01.123Z nginx        SERVER GET /users/*  200     1.234ms trace=4bf92f3577b34da6a3ce929d0e0e4736
///
/// Time (UTC, ms), service, kind, name, status code (HTTP status, else the
/// gRPC status, else `-`), duration (ms, 3 decimals), trace id. The short
/// columns are padded so a tail of the output reads as a table.
public struct ConsoleSpanFormatter: Sendable {
    public init() {}

    public func line(for span: SpanRecord, serviceName: String) -> String {
        var line = Self.timestamp(unixNano: span.startUnixNano)
        line += " "
        line += Self.padded(serviceName, to: 12)
        line += " "
        line += Self.padded(Self.kindName(span.kind), to: 6)
        line += " "
        line += span.name
        line += " "
        line += Self.padded(Self.statusText(span), to: 3)
        line += " "
        line += Self.padded(Self.duration(span), to: 10, left: true)
        line += " trace="
        line += span.traceID.description
        return line
    }

    static func kindName(_ kind: SpanKind) -> String {
        switch kind {
        case .server: return "SERVER"
        case .client: return "CLIENT"
        case .internal: return "INTERNAL"
        case .producer: return "PRODUCER"
        case .consumer: return "CONSUMER"
        case .unspecified: return "-"
        }
    }

    static func statusText(_ span: SpanRecord) -> String {
        for key in ["http.response.status_code", "rpc.grpc.status_code"] {
            if case .int(let code)? = span.attribute(key) { return String(code) }
        }
        for key in ["rpc.status_code", "rpc.response.status_code"] {
            if case .string(let code)? = span.attribute(key) { return code }
        }
        return span.statusCode == .error ? "ERR" : "-"
    }

    /// Milliseconds with three decimals, from integer nanoseconds (no rounding drift).
    static func duration(_ span: SpanRecord) -> String {
        let micros = span.endUnixNano >= span.startUnixNano ? (span.endUnixNano - span.startUnixNano) / 1000 : 0
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction + "ms"
    }

    /// ISO-8601 UTC with milliseconds, e.g. `2026-11-24T20:59:01.123Z`.
    static func timestamp(unixNano: UInt64) -> String {
        var seconds = time_t(unixNano / 1_000_000_000)
        let millis = Int((unixNano / 1_000_000) % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return two(Int(parts.tm_year) + 1900, width: 4) + "-" + two(Int(parts.tm_mon) + 1) + "-" + two(Int(parts.tm_mday))
            + "T" + two(Int(parts.tm_hour)) + ":" + two(Int(parts.tm_min)) + ":" + two(Int(parts.tm_sec))
            + "." + two(millis, width: 3) + "Z"
    }

    private static func two(_ value: Int, width: Int = 2) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func padded(_ text: String, to width: Int, left: Bool = false) -> String {
        let count = text.count
        guard count < width else { return text }
        let padding = String(repeating: " ", count: width - count)
        return left ? padding + text : text + padding
    }
}
