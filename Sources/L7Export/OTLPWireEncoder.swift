import L7Spans

/// Writes an OTLP `ExportTraceServiceRequest` straight from span records in
/// the protobuf wire format, back to front, into one reused buffer.
///
/// Why not protobuf-c's packer (kept as `OTLPEncoder`, the tests' oracle):
/// building its C message tree costs an arena node and a C string per
/// attribute, and packing a nested message recomputes the size of every
/// message below it at each level (`protobuf_c_message_get_packed_size` and
/// `_pack` topped the export profile). Written backwards, a message's
/// length is known when its content is done, so each byte is written once
/// and no size is computed ahead. Fields go in descending number order, so
/// the bytes read forwards are those protobuf-c writes for the same spans:
/// proto3 defaults (0, "", empty bytes) left out, message fields written
/// when present even if empty, a oneof's member written whatever its value.
/// No heap allocation per span once the buffer has grown to the batch size.
/// Not thread-safe: one encoder per export thread.
public final class OTLPWireEncoder {
    public let scopeName: String
    public let scopeVersion: String
    private var buffer = BackwardBuffer()

    public init(scopeName: String = "l7trace", scopeVersion: String = L7TraceVersion.current) {
        self.scopeName = scopeName
        self.scopeVersion = scopeVersion
    }

    /// The encoded request as a new array (for tests and one-off callers).
    public func encode(_ batches: [ResourceBatch]) -> [UInt8] {
        withEncodedRequest(batches, headroom: 0) { Array(UnsafeRawBufferPointer($0)) }
    }

    /// Encodes into the encoder's own buffer and lends the bytes to `body`,
    /// with `headroom` bytes before the message for the caller to fill
    /// (gRPC's 5-byte prefix); valid only inside `body`.
    public func withEncodedRequest<Result>(
        _ batches: [ResourceBatch], headroom: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        buffer.reset()
        for batch in batches.reversed() {
            message(1) { writeResourceSpans(batch) }
        }
        return try buffer.withWritten(headroom: headroom, body)
    }

    deinit { buffer.deallocate() }

    // MARK: - Messages, fields in descending order

    /// A length-delimited field whose content `write` puts in front of what is there.
    /// (A method of the encoder, not of the buffer: `write` mutates the buffer itself.)
    @inline(__always)
    private func message(_ field: UInt32, _ write: () -> Void) {
        let end = buffer.count
        write()
        buffer.closeMessage(field: field, contentEnd: end)
    }

    private func writeResourceSpans(_ batch: ResourceBatch) {
        // scope_spans = 2 (one), resource = 1.
        message(2) {
            for span in batch.spans.reversed() {
                message(2) { writeSpan(span) }
            }
            message(1) {
                buffer.string(field: 2, scopeVersion)
                buffer.string(field: 1, scopeName)
            }
        }
        message(1) { writeAttributes(batch.resource.attributes, field: 1) }
    }

    private func writeSpan(_ span: SpanRecord) {
        buffer.fixed32(field: 16, span.flags)
        message(15) {
            buffer.varint(field: 3, UInt64(UInt32(bitPattern: span.statusCode.rawValue)))
            buffer.string(field: 2, span.statusMessage)
        }
        writeAttributes(span.attributes, field: 9)
        buffer.fixed64(field: 8, span.endUnixNano)
        buffer.fixed64(field: 7, span.startUnixNano)
        buffer.varint(field: 6, UInt64(UInt32(bitPattern: span.kind.rawValue)))
        buffer.string(field: 5, span.name)
        if let parent = span.parentSpanID { buffer.id(field: 4, parent.value) }
        buffer.string(field: 3, span.traceState)
        buffer.id(field: 2, span.spanID.value)
        buffer.traceID(field: 1, span.traceID)
    }

    private func writeAttributes(_ attributes: [Attribute], field: UInt32) {
        for attribute in attributes.reversed() {
            message(field) {
                message(2) { writeValue(attribute.value) }
                buffer.string(field: 1, attribute.key)
            }
        }
    }

    /// AnyValue: the oneof member is written even when it holds its type's default.
    private func writeValue(_ value: AttributeValue) {
        switch value {
        case .string(let string): buffer.string(field: 1, string, evenIfEmpty: true)
        case .bool(let bool): buffer.varint(field: 2, bool ? 1 : 0, evenIfZero: true)
        case .int(let int): buffer.varint(field: 3, UInt64(bitPattern: int), evenIfZero: true)
        case .double(let double): buffer.fixed64(field: 4, double.bitPattern, evenIfZero: true)
        case .stringArray(let strings):
            message(5) {
                for string in strings.reversed() {
                    message(1) { buffer.string(field: 1, string, evenIfEmpty: true) }
                }
            }
        }
    }
}

/// A byte buffer filled from its end towards its start. The only type of
/// the encoder that touches raw memory.
struct BackwardBuffer {
    private var storage = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
    private var capacity = 4096
    /// Bytes written so far; they occupy the last `count` bytes of the storage.
    private(set) var count = 0

    mutating func reset() { count = 0 }

    func deallocate() { storage.deallocate() }

    /// Lends the written bytes, with `headroom` free bytes before them.
    mutating func withWritten<Result>(headroom: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Result) rethrows -> Result {
        reserve(headroom)
        return try body(UnsafeMutableRawBufferPointer(start: storage + (capacity - count - headroom), count: count + headroom))
    }

    /// Prefixes the bytes written since `count` was `contentEnd` with their field's tag and length.
    mutating func closeMessage(field: UInt32, contentEnd: Int) {
        rawVarint(UInt64(count - contentEnd))
        tag(field, wireType: 2)
    }

    mutating func string(field: UInt32, _ string: String, evenIfEmpty: Bool = false) {
        if string.isEmpty && !evenIfEmpty { return }
        var string = string
        let length = string.withUTF8 { bytes -> Int in
            let n = bytes.count
            if n > 0 {
                reserve(n)
                count += n
                (storage + (capacity - count)).copyMemory(from: bytes.baseAddress!, byteCount: n)
            }
            return n
        }
        rawVarint(UInt64(length))
        tag(field, wireType: 2)
    }

    mutating func varint(field: UInt32, _ value: UInt64, evenIfZero: Bool = false) {
        if value == 0 && !evenIfZero { return }
        rawVarint(value)
        tag(field, wireType: 0)
    }

    mutating func fixed64(field: UInt32, _ value: UInt64, evenIfZero: Bool = false) {
        if value == 0 && !evenIfZero { return }
        word(value.littleEndian)
        tag(field, wireType: 1)
    }

    mutating func fixed32(field: UInt32, _ value: UInt32) {
        if value == 0 { return }
        reserve(4)
        count += 4
        (storage + (capacity - count)).storeBytes(of: value.littleEndian, as: UInt32.self)
        tag(field, wireType: 5)
    }

    /// An 8-byte id, big-endian as OTLP and `traceparent` write it.
    mutating func id(field: UInt32, _ value: UInt64) {
        word(value.bigEndian)
        byte(8)
        tag(field, wireType: 2)
    }

    mutating func traceID(field: UInt32, _ id: TraceID) {
        word(id.low.bigEndian)
        word(id.high.bigEndian)
        byte(16)
        tag(field, wireType: 2)
    }

    // MARK: - Raw writes (in front of what is written)

    @inline(__always)
    private mutating func tag(_ field: UInt32, wireType: UInt32) { rawVarint(UInt64(field << 3 | wireType)) }

    @inline(__always)
    private mutating func byte(_ value: UInt8) {
        reserve(1)
        count += 1
        (storage + (capacity - count)).storeBytes(of: value, as: UInt8.self)
    }

    /// Eight bytes as they are in memory (the caller picks the byte order).
    @inline(__always)
    private mutating func word(_ value: UInt64) {
        reserve(8)
        count += 8
        (storage + (capacity - count)).storeBytes(of: value, as: UInt64.self)
    }

    @inline(__always)
    private mutating func rawVarint(_ value: UInt64) {
        // Tags and most lengths take one byte.
        if value < 0x80 { return byte(UInt8(truncatingIfNeeded: value)) }
        let length = (64 - value.leadingZeroBitCount + 6) / 7
        reserve(length)
        count += length
        let start = storage + (capacity - count)
        var value = value
        for index in 0..<(length - 1) {
            start.storeBytes(of: UInt8(truncatingIfNeeded: value) | 0x80, toByteOffset: index, as: UInt8.self)
            value >>= 7
        }
        start.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: length - 1, as: UInt8.self)
    }

    /// Room for `more` bytes in front of the written ones.
    @inline(__always)
    private mutating func reserve(_ more: Int) {
        if count + more > capacity { grow(more) }
    }

    @inline(never)
    private mutating func grow(_ more: Int) {
        // Geometric growth: a batch reaches its size in a few steps, then the buffer is reused.
        let newCapacity = max(count + more, capacity * 2)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        (fresh + (newCapacity - count)).copyMemory(from: storage + (capacity - count), byteCount: count)
        storage.deallocate()
        storage = fresh
        capacity = newCapacity
    }
}
