import L7Basics

/// Header fields in arrival order. Names keep their original case; lookups
/// are case-insensitive (ASCII). Repeated fields stay separate entries.
///
/// The fields are kept as bytes in one buffer, with one small entry per field:
/// a span needs only a few of a message's fields as Strings, so the others are
/// never decoded, and a whole head costs two allocations however many fields
/// it has.
public struct HTTPHeaders: Sendable, Equatable {
    /// Where one field's name and value lie in `bytes`.
    private struct Entry: Sendable, Equatable {
        var nameStart: UInt32
        var nameCount: UInt32
        var valueStart: UInt32
        var valueCount: UInt32
    }

    /// Names a span asks for on every request, noted as fields arrive: most
    /// requests carry no trace context and no forwarding fields, and asking
    /// for an absent one then costs no pass over the names.
    public struct NotableFields: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let host = NotableFields(rawValue: 1 << 0)
        /// HTTP/2's `:authority`.
        public static let authority = NotableFields(rawValue: 1 << 1)
        public static let userAgent = NotableFields(rawValue: 1 << 2)
        public static let traceparent = NotableFields(rawValue: 1 << 3)
        public static let tracestate = NotableFields(rawValue: 1 << 4)
        /// `Forwarded` or any `X-Forwarded-*`.
        public static let forwarding = NotableFields(rawValue: 1 << 5)

        /// What a field name is, any case.
        static func of(_ name: UnsafeRawBufferPointer) -> NotableFields {
            switch name.count {
            case 4: return name.equalsCaseInsensitive("host") ? .host : []
            case 9: return name.equalsCaseInsensitive("forwarded") ? .forwarding : []
            case 10:
                if name.equalsCaseInsensitive("user-agent") { return .userAgent }
                if name.equalsCaseInsensitive("tracestate") { return .tracestate }
                return name.equalsCaseInsensitive(":authority") ? .authority : []
            case 11: return name.equalsCaseInsensitive("traceparent") ? .traceparent : []
            case 12...:
                return UnsafeRawBufferPointer(rebasing: name[0..<12]).equalsCaseInsensitive("x-forwarded-") ? .forwarding : []
            default: return []
            }
        }
    }

    private var bytes: [UInt8] = []
    private var entries: [Entry] = []
    /// Which notable names some field has.
    public private(set) var notable: NotableFields = []

    public init() {}

    public init(_ fields: [(name: String, value: String)]) {
        for f in fields { append(name: f.name, value: f.value) }
    }

    /// Room for `fields` fields totalling `bytes` bytes of names and values.
    public mutating func reserveCapacity(fields: Int, bytes count: Int) {
        entries.reserveCapacity(fields)
        bytes.reserveCapacity(count)
    }

    /// Headers whose fields will be ranges of `block`, copied here once
    /// (one copy of a whole HTTP/1 head instead of one per name and value).
    init(copying block: UnsafeRawBufferPointer, expectedFields: Int) {
        bytes.appendBytes(block)
        entries.reserveCapacity(expectedFields)
    }

    /// Copies a block of bytes that fields will then point into with
    /// `appendField`; returns where the block starts.
    mutating func appendBlock(_ block: UnsafeRawBufferPointer) -> Int {
        let start = bytes.count
        bytes.appendBytes(block)
        return start
    }

    /// The block that fields appended with `appendField(name:value:in:)`
    /// point into, copied once its length is known; it must come first.
    mutating func copyBlock(_ block: UnsafeRawBufferPointer) {
        precondition(bytes.isEmpty, "the block must be the first bytes")
        bytes.appendBytes(block)
    }

    /// A field whose name and value are ranges of `bytes` (a block copied by
    /// `init(copying:expectedFields:)` or `appendBlock`).
    mutating func appendField(name: Range<Int>, value: Range<Int>) {
        let kind = bytes.withUnsafeBytes { Self.notableKind(of: name, in: $0) }
        appendEntry(name: name, value: value, kind: kind)
    }

    /// A field whose name and value are ranges of `block`, which is or will
    /// be the start of `bytes` (see `copyBlock`).
    mutating func appendField(name: Range<Int>, value: Range<Int>, in block: UnsafeRawBufferPointer) {
        appendEntry(name: name, value: value, kind: Self.notableKind(of: name, in: block))
    }

    @inline(__always)
    private static func notableKind(of name: Range<Int>, in block: UnsafeRawBufferPointer) -> NotableFields {
        name.count >= 4 && name.count != 5 ? NotableFields.of(UnsafeRawBufferPointer(rebasing: block[name])) : []
    }

    private mutating func appendEntry(name: Range<Int>, value: Range<Int>, kind: NotableFields) {
        notable.formUnion(kind)
        entries.append(Entry(nameStart: UInt32(name.lowerBound), nameCount: UInt32(name.count),
                             valueStart: UInt32(value.lowerBound), valueCount: UInt32(value.count)))
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Every field decoded as Strings (invalid UTF-8 repaired), in order.
    public var fields: [(name: String, value: String)] {
        entries.map { (name: string(bytes, $0.nameStart, $0.nameCount), value: string(bytes, $0.valueStart, $0.valueCount)) }
    }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        guard a.entries.count == b.entries.count else { return false }
        for (x, y) in zip(a.entries, b.entries) {
            guard x.nameCount == y.nameCount, x.valueCount == y.valueCount,
                  a.bytes[Int(x.nameStart)..<Int(x.nameStart + x.nameCount)] == b.bytes[Int(y.nameStart)..<Int(y.nameStart + y.nameCount)],
                  a.bytes[Int(x.valueStart)..<Int(x.valueStart + x.valueCount)] == b.bytes[Int(y.valueStart)..<Int(y.valueStart + y.valueCount)]
            else { return false }
        }
        return true
    }

    /// The first value of `name`, or nil.
    public subscript(name: String) -> String? {
        guard let e = firstEntry(named: name) else { return nil }
        return string(bytes, e.valueStart, e.valueCount)
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        var found: [String] = []
        var name = name
        name.withUTF8 { key in
            for e in entries where Self.nameMatches(bytes, e, key) {
                found.append(string(bytes, e.valueStart, e.valueCount))
            }
        }
        return found
    }

    /// The value of `name` when it occurs exactly once (no array is made).
    public func singleValue(_ name: String) -> String? {
        var name = name
        return name.withUTF8 { key -> String? in
            var found: Entry?
            for e in entries where Self.nameMatches(bytes, e, key) {
                if found != nil { return nil }
                found = e
            }
            return found.map { string(bytes, $0.valueStart, $0.valueCount) }
        }
    }

    public mutating func append(name: String, value: String) {
        var name = name, value = value
        name.withUTF8 { n in value.withUTF8 { v in append(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v)) } }
    }

    /// Copies the bytes of one field; no String is made.
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        notable.formUnion(NotableFields.of(name))
        let nameStart = UInt32(bytes.count)
        bytes.appendBytes(name)
        let valueStart = UInt32(bytes.count)
        bytes.appendBytes(value)
        entries.append(Entry(nameStart: nameStart, nameCount: UInt32(name.count),
                             valueStart: valueStart, valueCount: UInt32(value.count)))
    }

    /// Extends the last field's value (HTTP/1 obs-fold continuation lines).
    /// Returns false when there is no field to extend.
    @discardableResult
    public mutating func appendToLastValue(separator: UInt8, _ more: UnsafeRawBufferPointer) -> Bool {
        guard let last = entries.indices.last else { return false }
        let e = entries[last]
        if Int(e.valueStart + e.valueCount) != bytes.count {
            // The value lies inside a copied block: move it to the end first.
            let start = bytes.count
            bytes.append(contentsOf: bytes[Int(e.valueStart)..<Int(e.valueStart + e.valueCount)])
            entries[last].valueStart = UInt32(start)
        }
        bytes.append(separator)
        bytes.appendBytes(more)
        entries[last].valueCount += UInt32(1 + more.count)
        return true
    }

    /// Runs `body` over the bytes of the first value of `name`; nil when absent.
    public func withFirstValue<R>(_ name: String, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard let e = firstEntry(named: name) else { return nil }
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(e.valueStart)..<Int(e.valueStart + e.valueCount)])) }
    }

    private func firstEntry(named name: String) -> Entry? {
        var name = name
        return name.withUTF8 { key in
            for e in entries where Self.nameMatches(bytes, e, key) { return e }
            return nil
        }
    }

    private static func nameMatches(_ bytes: [UInt8], _ e: Entry, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard Int(e.nameCount) == key.count else { return false }
        return bytes.withUnsafeBufferPointer { all in
            let start = Int(e.nameStart)
            for i in 0..<key.count {
                let x = all[start + i], y = key[i]
                if !ASCIICase.equal(x, y) { return false }
            }
            return true
        }
    }
}

@inline(__always)
private func string(_ bytes: [UInt8], _ start: UInt32, _ count: UInt32) -> String {
    bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[Int(start)..<Int(start + count)]), as: UTF8.self) }
}
