import L7Basics

/// An attribute value, as OTLP's AnyValue carries it.
public enum AttributeValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case stringArray([String])
}

public struct Attribute: Sendable, Equatable {
    public var key: String
    public var value: AttributeValue

    public init(_ key: String, _ value: AttributeValue) { self.key = key; self.value = value }
}

/// OTLP SpanKind numbers.
public enum SpanKind: Int32, Sendable {
    case unspecified = 0, `internal` = 1, server = 2, client = 3, producer = 4, consumer = 5
}

/// OTLP Status.code numbers.
public enum StatusCode: Int32, Sendable {
    case unset = 0, ok = 1, error = 2
}

/// 16 bytes; all zeros is invalid.
public struct TraceID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }
    public var isValid: Bool { high != 0 || low != 0 }
    /// Big-endian bytes, as OTLP and the traceparent header order them.
    public var bytes: [UInt8] { withUnsafeBytes(of: high.bigEndian, Array.init) + withUnsafeBytes(of: low.bigEndian, Array.init) }
    public var description: String { Hex.string(high) + Hex.string(low) }
}

/// 8 bytes; zero is invalid.
public struct SpanID: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public var isValid: Bool { value != 0 }
    public var bytes: [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    public var description: String { Hex.string(value) }
}

/// A finished span, ready for export. `pid` names the process whose
/// resource it belongs to.
public struct SpanRecord: Sendable, Equatable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID?
    public var traceState: String
    public var name: String
    public var kind: SpanKind
    public var startUnixNano: UInt64
    public var endUnixNano: UInt64
    public var attributes: [Attribute]
    public var statusCode: StatusCode
    public var statusMessage: String
    /// W3C trace flags in the low 8 bits, plus OTLP's remote-parent bits.
    public var flags: UInt32
    public var pid: UInt32

    public init(traceID: TraceID, spanID: SpanID, parentSpanID: SpanID?, traceState: String = "", name: String,
                kind: SpanKind, startUnixNano: UInt64, endUnixNano: UInt64, attributes: [Attribute],
                statusCode: StatusCode, statusMessage: String = "", flags: UInt32, pid: UInt32) {
        self.traceID = traceID; self.spanID = spanID; self.parentSpanID = parentSpanID; self.traceState = traceState
        self.name = name; self.kind = kind; self.startUnixNano = startUnixNano; self.endUnixNano = endUnixNano
        self.attributes = attributes; self.statusCode = statusCode; self.statusMessage = statusMessage
        self.flags = flags; self.pid = pid
    }

    public func attribute(_ key: String) -> AttributeValue? { attributes.first { $0.key == key }?.value }
}

/// The resource of one traced process: its attributes (service.name first).
public struct ProcessResource: Sendable, Equatable {
    public var pid: UInt32
    public var attributes: [Attribute]
    /// `service.instance.id` came from the environment, not from the pid:
    /// a forked child has the same.
    public var instanceIDFromEnvironment: Bool

    public init(pid: UInt32, attributes: [Attribute], instanceIDFromEnvironment: Bool = false) {
        self.pid = pid; self.attributes = attributes; self.instanceIDFromEnvironment = instanceIDFromEnvironment
    }

    public var serviceName: String {
        if case .string(let s)? = attributes.first(where: { $0.key == "service.name" })?.value { return s }
        return "unknown_service"
    }
}

/// Spans of one process, grouped for export as one ResourceSpans.
public struct ResourceBatch: Sendable, Equatable {
    public var resource: ProcessResource
    public var spans: [SpanRecord]

    public init(resource: ProcessResource, spans: [SpanRecord]) { self.resource = resource; self.spans = spans }
}
