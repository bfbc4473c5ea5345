import Glibc

/// What the references do with a message's header fields: copy each name
/// and value into one reusable buffer and remember where each field ends —
/// the way NIOHTTP1's decoder keeps fields as ranges of its buffer — so that
/// a consumer could read them after the callback returned. Names and values
/// may arrive in several pieces (a field split across two reads).
///
/// A collector that does not keep fields (`keepsFields` false) only
/// counts messages and body bytes: l7trace reads HTTP/1 response fields for
/// framing and keeps none, so llhttp's response side is measured the same way
/// (its callbacks still run; nothing is copied).
///
/// Plain memory behind a pointer that the C callbacks receive as their
/// user data: no reference counting or exclusivity checks in the callbacks,
/// so the reference's consumer costs about what a C consumer would.
struct HeaderCollector {
    private var bytes: UnsafeMutablePointer<UInt8>
    private var byteCount = 0
    private var byteCapacity: Int
    /// Per field: where its name ends and where its value ends in `bytes`.
    private var fieldEnds: UnsafeMutablePointer<(name: Int, value: Int)>
    private var fieldCount = 0
    private var fieldCapacity: Int
    private var inValue = false
    private var keepsFields = true
    /// Totals over the run, read at the end.
    private(set) var fieldsSeen = 0
    private(set) var messages = 0
    private(set) var bodyBytes = 0

    /// A collector in memory of its own, for a C parser's user-data pointer.
    static func allocate(keepsFields: Bool = true) -> UnsafeMutablePointer<HeaderCollector> {
        let collector = UnsafeMutablePointer<HeaderCollector>.allocate(capacity: 1)
        collector.initialize(to: HeaderCollector())
        collector.pointee.keepsFields = keepsFields
        return collector
    }

    static func release(_ collector: UnsafeMutablePointer<HeaderCollector>) {
        free(collector.pointee.bytes)
        free(collector.pointee.fieldEnds)
        collector.deinitialize(count: 1)
        collector.deallocate()
    }

    private init() {
        byteCapacity = 4096
        bytes = malloc(byteCapacity)!.assumingMemoryBound(to: UInt8.self)
        fieldCapacity = 64
        fieldEnds = malloc(fieldCapacity * MemoryLayout<(name: Int, value: Int)>.stride)!
            .assumingMemoryBound(to: (name: Int, value: Int).self)
    }

    mutating func beginMessage() {
        byteCount = 0
        fieldCount = 0
        inValue = false
    }

    mutating func appendStartLine(_ piece: UnsafeRawBufferPointer) {
        guard keepsFields else { return }
        append(piece)
    }

    mutating func appendName(_ piece: UnsafeRawBufferPointer) {
        guard keepsFields else { return }
        if inValue || fieldCount == 0 {
            addField()
            inValue = false
        }
        append(piece)
        fieldEnds[fieldCount - 1] = (byteCount, byteCount)
    }

    mutating func appendValue(_ piece: UnsafeRawBufferPointer) {
        guard keepsFields else { return }
        inValue = true
        append(piece)
        fieldEnds[fieldCount - 1].value = byteCount
    }

    /// A whole field at once (HTTP/2 delivers decoded fields whole).
    mutating func appendField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        addField()
        append(name)
        let nameEnd = byteCount
        append(value)
        fieldEnds[fieldCount - 1] = (nameEnd, byteCount)
    }

    mutating func headersComplete() { fieldsSeen += fieldCount }
    mutating func body(_ count: Int) { bodyBytes += count }
    mutating func messageComplete() { messages += 1 }

    private mutating func addField() {
        if fieldCount == fieldCapacity {
            fieldCapacity *= 2
            fieldEnds = realloc(fieldEnds, fieldCapacity * MemoryLayout<(name: Int, value: Int)>.stride)!
                .assumingMemoryBound(to: (name: Int, value: Int).self)
        }
        fieldEnds[fieldCount] = (byteCount, byteCount)
        fieldCount += 1
    }

    private mutating func append(_ piece: UnsafeRawBufferPointer) {
        guard let source = piece.baseAddress, piece.count > 0 else { return }
        if byteCount + piece.count > byteCapacity {
            while byteCount + piece.count > byteCapacity { byteCapacity *= 2 }
            bytes = realloc(bytes, byteCapacity)!.assumingMemoryBound(to: UInt8.self)
        }
        memcpy(bytes + byteCount, source, piece.count)
        byteCount += piece.count
    }
}
