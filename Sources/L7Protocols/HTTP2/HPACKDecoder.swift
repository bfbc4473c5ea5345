/// A decoded header field. `name` or `value` is nil when the capture cannot
/// know it: a reference to a dynamic-table entry older than the capture, or
/// a string that is not valid Huffman code.
struct HPACKField: Equatable {
    var name: String?
    var value: String?
}

/// One HPACK decoding context (RFC 7541): one per direction per connection.
///
/// It models the dynamic table as "the newest insertions this decoder has
/// seen", newest first. Index 62 + k always names the k-th newest insertion,
/// whatever the table's true size, so every reference that lands inside the
/// modelled entries is exact, and a reference beyond them is to an entry the
/// capture never saw (inserted before the tracer attached, or in a header
/// block that was lost): that field is reported unknown, never guessed.
/// Evicting with a maximum that differs from the peer's only moves the line
/// between exact and unknown, never makes a field wrong. When a block is lost
/// the model is emptied (`forgetTable`) and rebuilds from the next insertions,
/// so names become exact again as soon as the peer re-inserts them.
///
/// libnghttp2's inflater cannot do this itself (it fails on an unknown index
/// and its errors are sticky), so blocks are decoded here, Huffman strings
/// included (`HPACKHuffman`). Fields are decoded as bytes into an
/// `HPACKHeaderList`: no String is made here.
struct HPACKDecoder {
    /// Read by the fuzz harness (every entry costs at least 32 bytes of the size).
    private(set) var table = HPACKDynamicTable()
    /// The table's maximum size: 4096 until a size update says otherwise.
    private(set) var maxSize = 4096
    /// The decoding endpoint's SETTINGS_HEADER_TABLE_SIZE (the bound of size
    /// updates): 4096 until its SETTINGS say otherwise. When the capture
    /// starts mid-connection the SETTINGS were missed: a browser's 64 KiB is
    /// assumed rather than failing honest blocks.
    private(set) var settingsLimit: Int
    /// Limits the decoding endpoint sent that the encoder has not
    /// acknowledged yet, oldest first (nil: a SETTINGS without one). Until
    /// acknowledged, either the old limit or the new one may bind.
    private var unacknowledgedLimits: [Int?] = []
    /// The model holds the whole table: the connection was seen from its
    /// start, or enough was inserted since to evict everything older.
    private(set) var isExact: Bool
    /// Bytes inserted since the model was last emptied (to tell when it is exact again).
    private var insertedSinceForget = 0

    init(startsEmpty: Bool) {
        isExact = startsEmpty
        settingsLimit = startsEmpty ? 4096 : 64 * 1024
    }

    enum Failure: Error {
        case malformed
        /// A dynamic-table size update above the decoder's SETTINGS_HEADER_TABLE_SIZE.
        case sizeUpdateAboveLimit
    }

    /// Decodes one complete header block, appending its fields to `list`.
    /// Throws when the block is not valid HPACK: the model is then emptied
    /// (its insertions are unknown) and `list` is left as it was.
    mutating func decode(_ block: UnsafeRawBufferPointer, into list: inout HPACKHeaderList) throws {
        let mark = list.mark
        var reader = Reader(bytes: block)
        var atStart = true
        do {
            while !reader.isAtEnd {
                let first = reader.peek()
                if first & 0x80 != 0 {
                    let index = try reader.integer(prefixBits: 7)
                    try appendIndexed(index, to: &list)
                } else if first & 0xC0 == 0x40 {
                    try appendLiteral(&reader, prefixBits: 6, indexing: true, to: &list)
                } else if first & 0xE0 == 0x20 {
                    // Size updates come before the first field only, and
                    // never above what the decoder advertised (§4.2, §6.3).
                    guard atStart else { throw Failure.malformed }
                    let newMax = try reader.integer(prefixBits: 5)
                    guard newMax <= sizeUpdateLimit else { throw Failure.sizeUpdateAboveLimit }
                    setMaxSize(newMax)
                    continue
                } else {
                    try appendLiteral(&reader, prefixBits: 4, indexing: false, to: &list)
                }
                atStart = false
            }
        } catch {
            list.rollBack(to: mark)
            forgetTable()
            throw error
        }
    }

    /// Decodes one block into `HPACKField`s (tests; the tracer uses `decode(_:into:)`).
    mutating func decode(_ block: UnsafeRawBufferPointer) throws -> [HPACKField] {
        var list = HPACKHeaderList()
        try decode(block, into: &list)
        return list.decodedFields(in: 0..<list.count)
    }

    /// The largest size update the encoder may send now: the acknowledged
    /// limit, or one still in flight.
    var sizeUpdateLimit: Int {
        var limit = settingsLimit
        for case let pending? in unacknowledgedLimits { limit = max(limit, pending) }
        return limit
    }

    /// The decoding endpoint sent a SETTINGS frame (with its
    /// SETTINGS_HEADER_TABLE_SIZE, if any); it binds once the encoder's side acknowledges it.
    mutating func settingsSent(headerTableSize: Int?) {
        if unacknowledgedLimits.count >= 16 {
            // A peer that never acknowledges: the oldest is taken as acknowledged (bounded state).
            settingsAcknowledged()
        }
        unacknowledgedLimits.append(headerTableSize)
    }

    /// The encoder's side acknowledged the oldest SETTINGS it had not (its
    /// ACK comes before any block that relies on the new limit).
    mutating func settingsAcknowledged() {
        guard !unacknowledgedLimits.isEmpty else { return }
        if let limit = unacknowledgedLimits.removeFirst() { settingsChanged(headerTableSize: limit) }
    }

    /// The decoding endpoint's SETTINGS_HEADER_TABLE_SIZE now binds. A
    /// smaller limit shrinks the table now (the encoder must follow with a
    /// size update); a larger one takes effect through a size update.
    mutating func settingsChanged(headerTableSize: Int) {
        settingsLimit = headerTableSize
        if headerTableSize < maxSize { setMaxSize(headerTableSize) }
    }

    /// A header block of this direction was lost, or the capture starts
    /// mid-connection: the table's content is unknown from here.
    mutating func forgetTable() {
        table.removeAll()
        isExact = false
        insertedSinceForget = 0
    }

    // MARK: - Representations

    /// An indexed field. Whether it is kept is decided before copying: one
    /// input byte may name a table entry of kilobytes.
    private mutating func appendIndexed(_ index: Int, to list: inout HPACKHeaderList) throws {
        if index == 0 { throw Failure.malformed }
        if index <= HPACKStaticTable.count {
            let e = HPACKStaticTable.entry(index)
            let size = e.name.utf8CodeUnitCount + e.value.utf8CodeUnitCount
            guard e.name.withUTF8Buffer({ list.admits(name: UnsafeRawBufferPointer($0), size: size) }) else {
                list.omittedFields += 1
                return
            }
            list.append(name: list.appendPart(e.name), value: list.appendPart(e.value))
            return
        }
        let k = index - HPACKStaticTable.count  // 1 = newest
        guard k <= table.count else {
            // Older than the model: inserted before the capture, or the
            // table is larger than assumed. Unknown either way.
            isExact = false
            guard list.admits(name: nil, size: 0) else {
                list.omittedFields += 1
                return
            }
            list.append(name: .unknown, value: .unknown)
            return
        }
        guard table.withEntry(k, { name, valueCount in list.admits(name: name, size: (name?.count ?? 0) + valueCount) }) else {
            list.omittedFields += 1
            return
        }
        list.append(name: table.copyName(k, into: &list), value: table.copyValue(k, into: &list))
    }

    /// A literal field. One inserted into the table is decoded whole (the
    /// table needs it); one that is not and whose name alone is too much for
    /// the list is skipped without copying.
    private mutating func appendLiteral(_ reader: inout Reader, prefixBits: Int, indexing: Bool,
                                        to list: inout HPACKHeaderList) throws {
        let mark = list.mark
        let nameIndex = try reader.integer(prefixBits: prefixBits)
        let name: HPACKHeaderList.Part
        if nameIndex == 0 {
            name = try reader.string(into: &list)
        } else {
            if !indexing && !nameAdmitted(at: nameIndex, by: list) {
                try reader.skipString()
                list.omittedFields += 1
                return
            }
            name = try namePart(at: nameIndex, into: &list)
        }
        let value = try reader.string(into: &list)
        list.append(name: name, value: value)
        if indexing { insertLast(of: list) }
        list.keepLast(orRollBackTo: mark)
    }

    /// Whether the list would keep a field with this indexed name and an empty value.
    private func nameAdmitted(at index: Int, by list: HPACKHeaderList) -> Bool {
        if index <= HPACKStaticTable.count {
            let name = HPACKStaticTable.entry(index).name
            return name.withUTF8Buffer { list.admits(name: UnsafeRawBufferPointer($0), size: $0.count) }
        }
        let k = index - HPACKStaticTable.count
        guard k <= table.count else { return list.admits(name: nil, size: 0) }
        return table.withEntry(k) { name, _ in list.admits(name: name, size: name?.count ?? 0) }
    }

    private mutating func namePart(at index: Int, into list: inout HPACKHeaderList) throws -> HPACKHeaderList.Part {
        if index == 0 { throw Failure.malformed }
        if index <= HPACKStaticTable.count { return list.appendPart(HPACKStaticTable.entry(index).name) }
        let k = index - HPACKStaticTable.count
        guard k <= table.count else {
            isExact = false
            return .unknown
        }
        return table.copyName(k, into: &list)
    }

    // MARK: - Table

    /// Inserts the list's last field (a literal with incremental indexing).
    private mutating func insertLast(of list: HPACKHeaderList) {
        list.withField(list.count - 1) { name, value in
            let entrySize = (name?.count ?? 1) + (value?.count ?? 0) + 32
            insertedSinceForget += entrySize
            if entrySize > maxSize {
                // An entry larger than the table empties it (RFC 7541 §4.4).
                table.removeAll()
            } else {
                table.insert(name: name, value: value, entrySize: entrySize, maxSize: maxSize)
            }
        }
        if !isExact && insertedSinceForget >= maxSize && maxSize <= settingsLimit {
            // Every entry older than the model must have been evicted.
            isExact = true
        }
    }

    private mutating func setMaxSize(_ newMax: Int) {
        maxSize = newMax
        table.evict(to: newMax)
    }
}

/// Reads HPACK primitives (RFC 7541 §5) from one block.
private struct Reader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    var isAtEnd: Bool { position >= bytes.count }

    func peek() -> UInt8 { bytes[position] }

    /// An N-bit-prefix integer; values past 2^28 are refused (no HPACK field needs them).
    mutating func integer(prefixBits: Int) throws -> Int {
        guard position < bytes.count else { throw HPACKDecoder.Failure.malformed }
        let mask = (1 << prefixBits) - 1
        var value = Int(bytes[position]) & mask
        position += 1
        if value < mask { return value }
        var shift = 0
        while true {
            guard position < bytes.count, shift <= 21 else { throw HPACKDecoder.Failure.malformed }
            let b = bytes[position]
            position += 1
            value += Int(b & 0x7F) << shift
            shift += 7
            if b & 0x80 == 0 { return value }
        }
    }

    /// Passes over a string literal.
    mutating func skipString() throws {
        guard position < bytes.count else { throw HPACKDecoder.Failure.malformed }
        let length = try integer(prefixBits: 7)
        guard length <= bytes.count - position else { throw HPACKDecoder.Failure.malformed }
        position += length
    }

    /// A string literal, appended to `list`; unknown when it is Huffman-coded and the code is invalid.
    mutating func string(into list: inout HPACKHeaderList) throws -> HPACKHeaderList.Part {
        guard position < bytes.count else { throw HPACKDecoder.Failure.malformed }
        let isHuffman = bytes[position] & 0x80 != 0
        let length = try integer(prefixBits: 7)
        guard length <= bytes.count - position else { throw HPACKDecoder.Failure.malformed }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[position..<position + length])
        position += length
        return isHuffman ? list.appendHuffmanPart(raw) : list.appendPart(raw)
    }
}
