/// The modelled part of an HPACK dynamic table (see `HPACKDecoder` for what
/// "modelled" means): the newest insertions, their names and values stored
/// back to back in one byte buffer rather than as Strings, so inserting and
/// evicting allocate nothing once the buffers have grown to the table's size.
struct HPACKDynamicTable {
    private struct Entry {
        /// Offset of the name in `storage`; the value follows it.
        var start: Int
        /// -1 when unknown.
        var nameCount: Int32
        var valueCount: Int32
        /// RFC 7541 §4.1 size: name + value + 32 (a lower bound when a part is unknown).
        var size: Int
    }

    /// Entries oldest first; `entries[oldest...]` are live.
    private var entries: [Entry] = []
    private var oldest = 0
    /// Entry bytes; those before the oldest live entry are dead until compacted.
    private var storage: [UInt8] = []
    /// Sum of the live entries' sizes.
    private(set) var size = 0

    var count: Int { entries.count - oldest }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        storage.removeAll(keepingCapacity: true)
        oldest = 0
        size = 0
    }

    /// Adds an entry of `entrySize` after making room for it under `maxSize`.
    mutating func insert(name: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, entrySize: Int, maxSize: Int) {
        size += entrySize
        evict(to: maxSize)  // older entries only: the new one is not in `entries` yet
        let start = storage.count
        if let name { storage.appendBytes(name) }
        if let value { storage.appendBytes(value) }
        entries.append(Entry(start: start, nameCount: name.map { Int32($0.count) } ?? -1,
                             valueCount: value.map { Int32($0.count) } ?? -1, size: entrySize))
    }

    mutating func evict(to limit: Int) {
        while size > limit, oldest < entries.count {
            size -= entries[oldest].size
            oldest += 1
        }
        compactIfWorthwhile()
    }

    /// Entry `k`'s name (nil when unknown) and its value's length, read in place.
    func withEntry<R>(_ k: Int, _ body: (_ name: UnsafeRawBufferPointer?, _ valueCount: Int) -> R) -> R {
        let e = entries[entries.count - k]
        let valueCount = Int(max(e.valueCount, 0))
        guard e.nameCount >= 0 else { return body(nil, valueCount) }
        return storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[e.start..<e.start + Int(e.nameCount)]), valueCount) }
    }

    /// Copies the name of entry `k` (1 = newest) into `list`.
    func copyName(_ k: Int, into list: inout HPACKHeaderList) -> HPACKHeaderList.Part {
        let e = entries[entries.count - k]
        guard e.nameCount >= 0 else { return .unknown }
        return storage.withUnsafeBytes { list.appendPart(UnsafeRawBufferPointer(rebasing: $0[e.start..<e.start + Int(e.nameCount)])) }
    }

    /// Copies the value of entry `k` (1 = newest) into `list`.
    func copyValue(_ k: Int, into list: inout HPACKHeaderList) -> HPACKHeaderList.Part {
        let e = entries[entries.count - k]
        guard e.valueCount >= 0 else { return .unknown }
        let start = e.start + Int(max(e.nameCount, 0))
        return storage.withUnsafeBytes { list.appendPart(UnsafeRawBufferPointer(rebasing: $0[start..<start + Int(e.valueCount)])) }
    }

    /// Drops evicted entries and their bytes once they outweigh the live ones.
    private mutating func compactIfWorthwhile() {
        guard oldest > 0 else { return }
        let deadBytes = oldest < entries.count ? entries[oldest].start : storage.count
        let manyDeadEntries = oldest > 64 && oldest * 2 > entries.count
        let manyDeadBytes = deadBytes > 16 * 1024 && deadBytes * 2 > storage.count
        guard manyDeadEntries || manyDeadBytes else { return }
        entries.removeFirst(oldest)
        oldest = 0
        storage.removeFirst(deadBytes)
        for i in entries.indices { entries[i].start -= deadBytes }
    }
}
