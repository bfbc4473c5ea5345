import L7Basics
import L7Spans

/// Writes a batch as one OTLP JSON `TracesData` object on one line (the
/// file exporter's JSON Lines format): proto3 JSON with lowerCamelCase keys,
/// trace and span ids in hex (OTLP's one departure from proto3 JSON, which
/// would use base64), enums as integers, 64-bit integers as decimal strings.
///
/// Bytes go straight into one reusable buffer; no intermediate strings or
/// dictionaries per span.
public struct OTLPJSONEncoder {
    public let scopeName: String
    public let scopeVersion: String
    private var out: [UInt8] = []

    public init(scopeName: String = "l7trace", scopeVersion: String = L7TraceVersion.current) {
        self.scopeName = scopeName
        self.scopeVersion = scopeVersion
    }

    /// The line for `batches`, ending in `\n`, as a new array.
    public mutating func encode(_ batches: [ResourceBatch]) -> [UInt8] {
        withEncodedLine(batches) { Array($0) }
    }

    /// Encodes into the encoder's buffer and lends the line (with its `\n`) to `body`.
    public mutating func withEncodedLine<Result>(_ batches: [ResourceBatch], _ body: (UnsafeRawBufferPointer) throws -> Result)
        rethrows -> Result
    {
        out.removeAll(keepingCapacity: true)
        raw(#"{"resourceSpans":["#)
        for (index, batch) in batches.enumerated() {
            if index > 0 { raw(",") }
            resourceSpans(batch)
        }
        raw("]}\n")
        return try out.withUnsafeBytes(body)
    }

    private mutating func resourceSpans(_ batch: ResourceBatch) {
        raw(#"{"resource":{"attributes":"#)
        attributes(batch.resource.attributes)
        raw(#"},"scopeSpans":[{"scope":{"name":"#)
        string(scopeName)
        raw(#","version":"#)
        string(scopeVersion)
        raw(#"},"spans":["#)
        for (index, span) in batch.spans.enumerated() {
            if index > 0 { raw(",") }
            self.span(span)
        }
        raw("]}]}")
    }

    private mutating func span(_ span: SpanRecord) {
        raw(#"{"traceId":""#)
        Hex.append(span.traceID.high, to: &out)
        Hex.append(span.traceID.low, to: &out)
        raw(#"","spanId":""#)
        Hex.append(span.spanID.value, to: &out)
        raw("\"")
        if let parent = span.parentSpanID {
            raw(#","parentSpanId":""#)
            Hex.append(parent.value, to: &out)
            raw("\"")
        }
        if !span.traceState.isEmpty {
            raw(#","traceState":"#)
            string(span.traceState)
        }
        raw(#","name":"#)
        string(span.name)
        raw(#","kind":"#)
        decimal(UInt64(span.kind.rawValue))
        raw(#","startTimeUnixNano":""#)
        decimal(span.startUnixNano)
        raw(#"","endTimeUnixNano":""#)
        decimal(span.endUnixNano)
        raw(#"","attributes":"#)
        attributes(span.attributes)
        raw(#","status":{"#)
        var needsComma = false
        if !span.statusMessage.isEmpty {
            raw(#""message":"#)
            string(span.statusMessage)
            needsComma = true
        }
        if span.statusCode.rawValue != 0 {
            if needsComma { raw(",") }
            raw(#""code":"#)
            decimal(UInt64(span.statusCode.rawValue))
        }
        raw(#"},"flags":"#)
        decimal(UInt64(span.flags))
        raw("}")
    }

    private mutating func attributes(_ list: [Attribute]) {
        raw("[")
        for (index, attribute) in list.enumerated() {
            if index > 0 { raw(",") }
            raw(#"{"key":"#)
            string(attribute.key)
            raw(#","value":"#)
            value(attribute.value)
            raw("}")
        }
        raw("]")
    }

    private mutating func value(_ value: AttributeValue) {
        switch value {
        case .string(let text):
            raw(#"{"stringValue":"#)
            string(text)
        case .bool(let flag):
            raw(flag ? #"{"boolValue":true"# : #"{"boolValue":false"#)
        case .int(let number):
            raw(#"{"intValue":""#)
            if number < 0 { raw("-") }
            decimal(number.magnitude)
            raw("\"")
        case .double(let number):
            raw(#"{"doubleValue":"#)
            if number.isNaN {
                raw(#""NaN""#)
            } else if number.isInfinite {
                raw(number < 0 ? #""-Infinity""# : #""Infinity""#)
            } else {
                raw(number.description)
            }
        case .stringArray(let strings):
            raw(#"{"arrayValue":{"values":["#)
            for (index, text) in strings.enumerated() {
                if index > 0 { raw(",") }
                raw(#"{"stringValue":"#)
                string(text)
                raw("}")
            }
            raw("]}")
        }
        raw("}")
    }

    // MARK: Bytes

    private mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    private mutating func raw(_ text: String) {
        out.append(contentsOf: text.utf8)
    }

    private mutating func decimal(_ value: UInt64) {
        guard value > 0 else { out.append(UInt8(ascii: "0")); return }
        let start = out.count
        var rest = value
        while rest > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        }
        out[start...].reverse()
    }

    /// A JSON string: quotes, backslashes and control characters escaped; UTF-8 kept as is.
    private mutating func string(_ text: String) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw(#"\""#)
            case UInt8(ascii: "\\"): raw(#"\\"#)
            case UInt8(ascii: "\n"): raw(#"\n"#)
            case UInt8(ascii: "\r"): raw(#"\r"#)
            case UInt8(ascii: "\t"): raw(#"\t"#)
            case 0..<0x20:
                raw(#"\u00"#)
                Hex.append(UInt64(byte), digits: 2, to: &out)
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
