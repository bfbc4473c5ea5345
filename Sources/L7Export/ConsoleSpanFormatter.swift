import L7Basics
import L7Spans

/// Turns a span into the one line the console exporter prints:
///
///     2026-11-24T20:59:01.123Z nginx        SERVER GET /users/*  200     1.234ms trace=4bf92f3577b34da6a3ce929d0e0e4736
///
/// Time (UTC, ms), service, kind, name, status code (HTTP status, else the
/// gRPC status, else `-`), duration (ms, 3 decimals), trace id. The short
/// columns are padded so a tail of the output reads as a table.
///
/// Written as bytes into the caller's buffer, digits and hex by hand and the
/// date by integer arithmetic: the line used to cost a dozen small strings
/// and a `gmtime_r` per span, more than encoding the span as OTLP.
public struct ConsoleSpanFormatter: Sendable {
    public init() {}

    public func line(for span: SpanRecord, serviceName: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        append(span, serviceName: serviceName, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the line, without its newline.
    public func append(_ span: SpanRecord, serviceName: String, to out: inout [UInt8]) {
        Self.appendTimestamp(unixNano: span.startUnixNano, to: &out)
        out.append(0x20)
        Self.appendPadded(serviceName, to: 12, &out)
        out.append(0x20)
        Self.appendPadded(Self.kindName(span.kind), to: 6, &out)
        out.append(0x20)
        out.append(contentsOf: span.name.utf8)
        out.append(0x20)
        Self.appendStatus(span, &out)
        out.append(0x20)
        Self.appendDuration(span, &out)
        out.append(contentsOf: " trace=".utf8)
        Hex.append(span.traceID.high, to: &out)
        Hex.append(span.traceID.low, to: &out)
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

    /// The HTTP status, else the gRPC status (number or name), else `ERR` or `-`; padded to 3.
    private static func appendStatus(_ span: SpanRecord, _ out: inout [UInt8]) {
        let start = out.count
        var found = false
        for attribute in span.attributes {
            switch (attribute.key, attribute.value) {
            case ("http.response.status_code", .int(let code)), ("rpc.grpc.status_code", .int(let code)):
                appendDecimal(code, &out)
                found = true
            case ("rpc.status_code", .string(let code)), ("rpc.response.status_code", .string(let code)):
                out.append(contentsOf: code.utf8)
                found = true
            default: continue
            }
            break
        }
        if !found { out.append(contentsOf: (span.statusCode == .error ? "ERR" : "-").utf8) }
        for _ in (out.count - start)..<max(3, out.count - start) { out.append(0x20) }
    }

    /// Milliseconds with three decimals, from integer nanoseconds (no rounding drift); right-aligned in 10.
    private static func appendDuration(_ span: SpanRecord, _ out: inout [UInt8]) {
        let micros = span.endUnixNano >= span.startUnixNano ? (span.endUnixNano - span.startUnixNano) / 1000 : 0
        var text: [UInt8] = []
        appendDecimal(Int64(micros / 1000), &text)
        text.append(0x2E)
        appendDigits(Int(micros % 1000), width: 3, &text)
        text.append(contentsOf: "ms".utf8)
        for _ in text.count..<max(10, text.count) { out.append(0x20) }
        out.append(contentsOf: text)
    }

    /// ISO-8601 UTC with milliseconds, e.g. `2026-11-24T20:59:01.123Z`.
    static func appendTimestamp(unixNano: UInt64, to out: inout [UInt8]) {
        let seconds = Int64(unixNano / 1_000_000_000)
        let days = seconds / 86_400, secondOfDay = Int(seconds % 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        appendDigits(Int(year), width: 4, &out)
        out.append(0x2D)
        appendDigits(month, width: 2, &out)
        out.append(0x2D)
        appendDigits(day, width: 2, &out)
        out.append(0x54)
        appendDigits(secondOfDay / 3600, width: 2, &out)
        out.append(0x3A)
        appendDigits(secondOfDay / 60 % 60, width: 2, &out)
        out.append(0x3A)
        appendDigits(secondOfDay % 60, width: 2, &out)
        out.append(0x2E)
        appendDigits(Int(unixNano / 1_000_000 % 1000), width: 3, &out)
        out.append(0x5A)
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (days ≥ 0),
    /// by the era arithmetic of "chrono-compatible low-level date algorithms".
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `value` in decimal, at least `width` digits (zero-padded).
    private static func appendDigits(_ value: Int, width: Int, _ out: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var value = value.magnitude
            var n = 0
            repeat {
                buffer[n] = UInt8(truncatingIfNeeded: value % 10) + 0x30
                value /= 10
                n += 1
            } while value > 0 || n < width
            for index in stride(from: n - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }

    private static func appendDecimal(_ value: Int64, _ out: inout [UInt8]) {
        if value < 0 { out.append(0x2D) }
        appendDigits(Int(value.magnitude), width: 1, &out)
    }

    private static func appendPadded(_ text: String, to width: Int, _ out: inout [UInt8]) {
        out.append(contentsOf: text.utf8)
        // Columns count characters; ASCII, the usual case, is counted in bytes.
        let utf8 = text.utf8
        let count = utf8.allSatisfy({ $0 < 0x80 }) ? utf8.count : text.count
        for _ in count..<max(width, count) { out.append(0x20) }
    }
}
