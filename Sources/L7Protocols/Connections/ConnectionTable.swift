import L7Events

/// The tracked connections, with least-recently-used order kept in an
/// index-linked list so that a lookup, a touch and an eviction are O(1).
struct ConnectionTable {
    private struct Slot {
        var connection: TrackedConnection?
        var newer: Int32 = -1
        var older: Int32 = -1
    }

    private var index: [UInt64: Int32] = [:]
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    /// Most and least recently used slots, -1 when empty.
    private var newest: Int32 = -1
    private var oldest: Int32 = -1
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { index.count }

    /// The connection with id `key`, now the most recently used.
    mutating func lookup(_ key: UInt64) -> TrackedConnection? {
        // Consecutive events mostly belong to one connection (a request,
        // then its response): the newest is checked before any hashing.
        if newest >= 0, let connection = slots[Int(newest)].connection, connection.id == key { return connection }
        guard let slot = index[key] else { return nil }
        unlink(slot)
        linkNewest(slot)
        return slots[Int(slot)].connection
    }

    /// The connection with id `key`, leaving the order alone.
    func peek(_ key: UInt64) -> TrackedConnection? {
        index[key].flatMap { slots[Int($0)].connection }
    }

    /// Adds a connection; returns the one evicted to make room, if any.
    mutating func insert(_ connection: TrackedConnection) -> TrackedConnection? {
        var evicted: TrackedConnection?
        if index.count >= capacity, oldest >= 0, let victim = slots[Int(oldest)].connection {
            evicted = remove(victim.id)
        }
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = Slot(connection: connection)
        } else {
            slot = Int32(slots.count)
            slots.append(Slot(connection: connection))
        }
        index[connection.id] = slot
        linkNewest(slot)
        return evicted
    }

    @discardableResult
    mutating func remove(_ key: UInt64) -> TrackedConnection? {
        guard let slot = index.removeValue(forKey: key) else { return nil }
        unlink(slot)
        let connection = slots[Int(slot)].connection
        slots[Int(slot)] = Slot()
        freeSlots.append(slot)
        return connection
    }

    /// Slots kept however empty the table gets: below this, rebuilding saves nothing worth the copy.
    static let minimumSlotsKept = 1_024

    /// Gives back the index and slots a burst grew, once at most a quarter
    /// of them is in use: Swift's dictionaries and arrays never shrink, and
    /// 16,384 slots with their index hold ~1 MB after every connection
    /// closed. O(connections tracked): call it when a burst has ended, never per event.
    mutating func shrinkIfSparse() {
        guard isSparse else { return }
        let connections = allKeys.compactMap { key in index[key].flatMap { slots[Int($0)].connection } }
        index = Dictionary(minimumCapacity: connections.count)
        slots = []
        slots.reserveCapacity(connections.count)
        freeSlots = []
        newest = -1
        oldest = -1
        for connection in connections { // oldest first: the order of use is kept
            let slot = Int32(slots.count)
            slots.append(Slot(connection: connection))
            index[connection.id] = slot
            linkNewest(slot)
        }
    }

    /// Whether `shrinkIfSparse` would give slots back. O(1).
    var isSparse: Bool { slots.count > Self.minimumSlotsKept && index.count * 4 < slots.count }

    /// Slots allocated (in use or free), for tests of shrinking.
    var slotCount: Int { slots.count }

    /// Ids of the connections whose socket `tgid` holds.
    func ids(heldBy tgid: UInt32) -> [UInt64] {
        index.compactMap { id, slot in slots[Int(slot)].connection?.holders.contains(tgid) == true ? id : nil }
    }

    /// Every id, oldest first.
    var allKeys: [UInt64] {
        var keys: [UInt64] = []
        keys.reserveCapacity(index.count)
        var slot = oldest
        while slot >= 0, let connection = slots[Int(slot)].connection {
            keys.append(connection.id)
            slot = slots[Int(slot)].newer
        }
        return keys
    }

    private mutating func unlink(_ slot: Int32) {
        let newer = slots[Int(slot)].newer, older = slots[Int(slot)].older
        if newer >= 0 { slots[Int(newer)].older = older } else { newest = older }
        if older >= 0 { slots[Int(older)].newer = newer } else { oldest = newer }
        slots[Int(slot)].newer = -1
        slots[Int(slot)].older = -1
    }

    private mutating func linkNewest(_ slot: Int32) {
        slots[Int(slot)].older = newest
        slots[Int(slot)].newer = -1
        if newest >= 0 { slots[Int(newest)].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }
}
