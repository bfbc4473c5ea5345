/// Counts gRPC's length-prefixed messages (1-byte flag + 4-byte big-endian
/// length + message) in one direction of a stream's DATA, without keeping
/// any of it. Message bytes are skipped by length, holes included; a hole in
/// a 5-byte prefix hides the next boundary and the count becomes unknown.
struct GRPCMessageCounter {
    private(set) var completed = 0
    /// A message boundary was lost: `count` is nil.
    private(set) var lost = false
    /// Prefix bytes collected so far (0 = at a boundary).
    private var prefixCount = 0
    private var length: UInt32 = 0
    /// Message bytes still to skip.
    private var bodyLeft = 0

    /// Messages seen in full or begun; nil when a boundary was lost.
    var count: Int? { lost ? nil : completed + (prefixCount > 0 || bodyLeft > 0 ? 1 : 0) }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !lost else { return }
        var i = 0
        while i < bytes.count {
            if bodyLeft > 0 {
                let take = min(bodyLeft, bytes.count - i)
                bodyLeft -= take
                i += take
                if bodyLeft == 0 { completed += 1 }
                continue
            }
            if prefixCount >= 1 { length = length << 8 | UInt32(bytes[i]) }
            prefixCount += 1
            i += 1
            if prefixCount == 5 {
                prefixCount = 0
                bodyLeft = Int(length)
                length = 0
                if bodyLeft == 0 { completed += 1 }
            }
        }
    }

    mutating func skip(_ count: Int) {
        guard !lost else { return }
        if bodyLeft >= count {
            bodyLeft -= count
            if bodyLeft == 0 && count > 0 { completed += 1 }
        } else {
            lost = true
        }
    }
}
