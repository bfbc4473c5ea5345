extension Array where Element == UInt8 {
    /// Appends raw bytes with one copy. `append(contentsOf:)` given an
    /// `UnsafeRawBufferPointer` sees a plain sequence and copies byte by byte.
    @inline(__always)
    mutating func appendRaw(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }
}
