/// Decoded header fields kept as bytes in one buffer, in arrival order.
///
/// Why bytes: a stream's fields are decoded on every request but only a few
/// are ever looked at before the exchange is built, so making a String per
/// name and value (and an array element holding two optionals) cost two or
/// three allocations per field. Here a whole stream's blocks share two
/// arrays, which the stitcher reuses from stream to stream.
struct HPACKHeaderList {
    /// One field: where its name and value lie in `bytes`. A count of -1
    /// marks a part the capture cannot know (see `HPACKField`).
    struct Field {
        var nameStart: Int32
        var nameCount: Int32
        var valueStart: Int32
        var valueCount: Int32

        var isComplete: Bool { nameCount >= 0 && valueCount >= 0 }
    }

    /// Where one name or value was put: `count` -1 when unknown.
    struct Part {
        var start: Int32
        var count: Int32

        static let unknown = Part(start: 0, count: -1)
    }

    /// A point to roll back to (a block that failed, or was dropped).
    struct Mark {
        fileprivate var fields: Int
        fileprivate var bytes: Int
    }

    /// What a kept field costs against the limits: its bytes plus this, as
    /// in RFC 7541 §4.1, so empty fields are not free.
    static let fieldOverhead = 32

    private(set) var bytes: [UInt8] = []
    private(set) var fields: [Field] = []

    /// Bounds on what the list keeps. A hostile peer makes one input byte
    /// name a whole dynamic-table entry, so the list holds at most
    /// `keepLimit` bytes (counting `fieldOverhead` per field) of any fields,
    /// and up to `spanFieldLimit` of the few fields a span reads
    /// (`isSpanField`); the others are left out and counted in `omittedFields`.
    var keepLimit = Int.max
    var spanFieldLimit = Int.max
    /// Fields decoded but not kept since the owner last reset this.
    var omittedFields = 0
    /// `bytes.count + fields.count * fieldOverhead`: what the limits compare against.
    var heldBytes: Int { bytes.count + fields.count * Self.fieldOverhead }

    init() {}

    /// A list with room for `fieldCount` fields of `byteCount` bytes in all.
    init(reservingFields fieldCount: Int, bytes byteCount: Int) {
        fields.reserveCapacity(fieldCount)
        bytes.reserveCapacity(byteCount)
    }

    var count: Int { fields.count }
    var mark: Mark { Mark(fields: fields.count, bytes: bytes.count) }

    /// Whether a field named `name` (nil: unknown) of `size` bytes in all may be kept.
    func admits(name: UnsafeRawBufferPointer?, size: Int) -> Bool {
        let after = heldBytes + size + Self.fieldOverhead
        if after <= keepLimit { return true }
        guard after <= spanFieldLimit, let name else { return false }
        return Self.isSpanField(name)
    }

    /// Names a span or an exchange reads: pseudo-headers, gRPC's, trace
    /// context and the other notable ones. All short in honest traffic.
    static func isSpanField(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let first = name.first else { return false }
        if first == UInt8(ascii: ":") { return true }
        if !HTTPHeaders.NotableFields.of(name).isEmpty { return true }
        switch name.count {
        case 11: return name.equalsCaseInsensitive("grpc-status")
        case 12: return name.equalsCaseInsensitive("content-type") || name.equalsCaseInsensitive("grpc-message")
        default: return false
        }
    }

    /// Keeps the field just appended if the limits allow it; otherwise
    /// removes it, back to `mark`, and counts it.
    mutating func keepLast(orRollBackTo mark: Mark) {
        let held = heldBytes
        if held <= keepLimit { return }
        if held <= spanFieldLimit, withField(count - 1, { name, _ in name.map(Self.isSpanField) ?? false }) { return }
        rollBack(to: mark)
        omittedFields += 1
    }

    mutating func rollBack(to mark: Mark) {
        fields.removeSubrange(mark.fields...)
        bytes.removeSubrange(mark.bytes...)
    }

    /// Empties the list, keeping its memory for the next stream.
    mutating func removeAll() {
        fields.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }

    /// Bytes held, counting capacity (to decide whether a list is worth reusing).
    var capacityBytes: Int { bytes.capacity + fields.capacity * MemoryLayout<Field>.stride }

    // MARK: - Building

    mutating func appendPart(_ raw: UnsafeRawBufferPointer) -> Part {
        let start = Int32(bytes.count)
        bytes.appendBytes(raw)
        return Part(start: start, count: Int32(raw.count))
    }

    mutating func appendPart(_ text: StaticString) -> Part {
        text.withUTF8Buffer { appendPart(UnsafeRawBufferPointer($0)) }
    }

    /// Decodes Huffman-coded bytes into the list; unknown when the code is invalid.
    mutating func appendHuffmanPart(_ encoded: UnsafeRawBufferPointer) -> Part {
        let start = bytes.count
        guard HPACKHuffman.decode(encoded, appendingTo: &bytes) else { return .unknown }
        return Part(start: Int32(start), count: Int32(bytes.count - start))
    }

    mutating func append(name: Part, value: Part) {
        fields.append(Field(nameStart: name.start, nameCount: name.count, valueStart: value.start,
                            valueCount: value.count))
    }

    // MARK: - Reading

    /// The name and value bytes of field `i` (nil where unknown), valid during `body`.
    func withField<R>(_ i: Int, _ body: (UnsafeRawBufferPointer?, UnsafeRawBufferPointer?) -> R) -> R {
        let f = fields[i]
        return bytes.withUnsafeBytes { all in
            body(Self.slice(all, f.nameStart, f.nameCount), Self.slice(all, f.valueStart, f.valueCount))
        }
    }

    func name(at i: Int) -> String? { withField(i) { name, _ in name.map(Self.string) } }
    func value(at i: Int) -> String? { withField(i) { _, value in value.map(Self.string) } }

    /// Whether field `i`'s name is `name` (HTTP/2 names are lowercase: compared exactly).
    func nameEquals(_ i: Int, _ name: StaticString) -> Bool {
        let f = fields[i]
        guard Int(f.nameCount) == name.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeBytes { all in
            name.withUTF8Buffer { wanted in
                let start = Int(f.nameStart)
                for k in 0..<wanted.count where all[start + k] != wanted[k] { return false }
                return true
            }
        }
    }

    /// The first field named `name` within `range`.
    func firstIndex(of name: StaticString, in range: Range<Int>) -> Int? {
        for i in range where nameEquals(i, name) { return i }
        return nil
    }

    func has(_ name: StaticString, in range: Range<Int>) -> Bool { firstIndex(of: name, in: range) != nil }

    /// The value of the first field named `name`; nil when absent or unknown.
    func value(of name: StaticString, in range: Range<Int>) -> String? {
        firstIndex(of: name, in: range).flatMap(value(at:))
    }

    /// Some field's name or value could not be decoded.
    func hasUnknown(in range: Range<Int>) -> Bool {
        for i in range where !fields[i].isComplete { return true }
        return false
    }

    /// The fields as `HPACKField`s (tests, and callers off the hot path).
    func decodedFields(in range: Range<Int>) -> [HPACKField] {
        range.map { i in withField(i) { n, v in HPACKField(name: n.map(Self.string), value: v.map(Self.string)) } }
    }

    private static func slice(_ all: UnsafeRawBufferPointer, _ start: Int32, _ count: Int32) -> UnsafeRawBufferPointer? {
        guard count >= 0 else { return nil }
        return UnsafeRawBufferPointer(rebasing: all[Int(start)..<Int(start) + Int(count)])
    }

    private static func string(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
}
