/// A small direct-mapped cache in front of a dictionary keyed by a 64-bit
/// key (a connection id): one multiply and one compare where the
/// dictionary hashes the key (~170 instructions in LinkBench). An entry is
/// found only under the very key it was stored with, so a collision (two
/// keys, one slot) is a miss, never another key's value; a miss falls back to
/// the dictionary. The owner keeps it in step with the dictionary (every
/// change of a key changes or removes its entry) or validates what it returns.
struct IDCache<Value> {
    private struct Entry {
        var key: UInt64
        var value: Value?
    }

    private var entries: [Entry]
    private let shift: UInt64

    /// 2^`bits` entries.
    init(bits: Int = 10) {
        precondition(bits > 0 && bits < 32)
        entries = Array(repeating: Entry(key: 0, value: nil), count: 1 << bits)
        shift = UInt64(64 - bits)
    }

    /// The entry `key` maps to (Fibonacci hashing: the high bits of the
    /// product, which every bit of the key moves).
    @inline(__always)
    func slot(of key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The value stored under `key`, or nil (never stored, removed, or its
    /// slot since taken by another key).
    @inline(__always)
    func value(for key: UInt64) -> Value? {
        let entry = entries[slot(of: key)]
        return entry.key == key ? entry.value : nil
    }

    /// Stores `value` under `key`, in place of whatever shared its slot.
    @inline(__always)
    mutating func store(_ value: Value, for key: UInt64) {
        entries[slot(of: key)] = Entry(key: key, value: value)
    }

    /// Forgets `key` (another key in its slot stays).
    mutating func remove(_ key: UInt64) {
        let slot = slot(of: key)
        if entries[slot].key == key { entries[slot].value = nil }
    }

    mutating func removeAll() {
        for i in entries.indices { entries[i].value = nil }
    }
}
