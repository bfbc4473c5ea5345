extension Array where Element == UInt8 {
    /// Appends raw bytes with one copy. `append(contentsOf:)` given an
    /// `UnsafeRawBufferPointer` goes through the generic sequence path (a
    /// loop per byte); a typed buffer takes the contiguous, memcpy path.
    mutating func appendBytes(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }
}
