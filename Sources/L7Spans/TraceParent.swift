import L7Basics
import L7Protocols

/// A parsed W3C `traceparent` header (Trace Context Level 1/2).
///
/// Parsing is strict because a tracer that adopts a malformed id would
/// splice unrelated requests into one trace; an invalid header is simply
/// ignored and the span starts a new trace.
public struct TraceParent: Sendable, Equatable {
    public var version: UInt8
    public var traceID: TraceID
    /// The id of the span that sent the request.
    public var parentID: SpanID
    public var flags: UInt8

    public init(version: UInt8 = 0, traceID: TraceID, parentID: SpanID, flags: UInt8) {
        self.version = version; self.traceID = traceID; self.parentID = parentID; self.flags = flags
    }

    /// The single `traceparent` of a request, or nil when it is absent,
    /// repeated or invalid.
    public init?(headers: HTTPHeaders) {
        guard headers.notable.contains(.traceparent) else { return nil }
        let values = headers.values("traceparent")
        guard values.count == 1 else { return nil }
        self.init(values[0])
    }

    /// Parses one header value (surrounding spaces and tabs allowed).
    public init?(_ value: String) {
        var value = value
        guard let parsed = value.withUTF8({ TraceParent.parse(ASCIIWhitespace.trimmingOWS($0)) }) else { return nil }
        self = parsed
    }

    /// Ids in lowercase hex only: the specification rejects uppercase.
    private static func parse(_ b: UnsafeBufferPointer<UInt8>) -> TraceParent? {
        guard b.count >= 55, b[2] == 0x2D, b[35] == 0x2D, b[52] == 0x2D,
              let version = Hex.lowercaseValue(b, from: 0, count: 2), version != 0xFF,
              let high = Hex.lowercaseValue(b, from: 3, count: 16), let low = Hex.lowercaseValue(b, from: 19, count: 16),
              let parent = Hex.lowercaseValue(b, from: 36, count: 16),
              let flags = Hex.lowercaseValue(b, from: 53, count: 2)
        else { return nil }
        // Version 00 is exactly 55 bytes; later versions may append fields after a dash.
        if version == 0 { guard b.count == 55 else { return nil } } else { guard b.count == 55 || b[55] == 0x2D else { return nil } }
        let traceID = TraceID(high: high, low: low), parentID = SpanID(parent)
        guard traceID.isValid, parentID.isValid else { return nil }
        return TraceParent(version: UInt8(version), traceID: traceID, parentID: parentID, flags: UInt8(flags))
    }
}

/// W3C `tracestate` validation. The value is copied into the span only
/// when every member is well formed; otherwise it is dropped whole.
enum TraceState {
    static let maxMembers = 32

    /// The normalised list (members joined by `,`, blanks removed) of all
    /// `tracestate` fields, or "" when absent or invalid.
    static func validated(_ headers: HTTPHeaders) -> String {
        guard headers.notable.contains(.tracestate) else { return "" }
        let fields = headers.values("tracestate")
        if fields.isEmpty { return "" }
        var members: [Substring] = []
        var keys = Set<Substring>()
        for field in fields {
            for raw in field.split(separator: ",", omittingEmptySubsequences: false) {
                let member = ASCIIWhitespace.trimmingOWS(raw)
                if member.isEmpty { continue }
                guard let eq = member.firstIndex(of: "=") else { return "" }
                let key = member[..<eq], value = member[member.index(after: eq)...]
                guard isValidKey(key), isValidValue(value), keys.insert(key).inserted else { return "" }
                members.append(member)
                if members.count > maxMembers { return "" }
            }
        }
        return members.joined(separator: ",")
    }

    /// `simple-key` or `tenant@system` multi-tenant key.
    static func isValidKey(_ key: Substring) -> Bool {
        let u = Array(key.utf8)
        if let at = u.firstIndex(of: 0x40) {
            let tenant = u[..<at], system = u[(at + 1)...]
            guard (1...241).contains(tenant.count), (1...14).contains(system.count) else { return false }
            guard let t0 = tenant.first, isLowerAlpha(t0) || isDigit(t0), let s0 = system.first, isLowerAlpha(s0)
            else { return false }
            return tenant.allSatisfy(isKeyChar) && system.allSatisfy(isKeyChar)
        }
        guard (1...256).contains(u.count), isLowerAlpha(u[0]) else { return false }
        return u.allSatisfy(isKeyChar)
    }

    static func isValidValue(_ value: Substring) -> Bool {
        let u = value.utf8
        guard (1...256).contains(u.count), u.last != 0x20 else { return false }
        return u.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != 0x2C && $0 != 0x3D }
    }

    private static func isLowerAlpha(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isKeyChar(_ c: UInt8) -> Bool {
        isLowerAlpha(c) || isDigit(c) || c == 0x5F || c == 0x2D || c == 0x2A || c == 0x2F
    }
}
