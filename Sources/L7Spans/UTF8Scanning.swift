/// Byte-level helpers: scanning `utf8` views avoids the grapheme-cluster
/// work that `Character` searches cost on every request.
extension Substring {
    /// Pieces between `separator` bytes (an ASCII separator never splits a
    /// multi-byte character), empty pieces included.
    func splitBytes(_ separator: UInt8) -> [Substring] {
        var pieces: [Substring] = []
        var start = startIndex
        var i = utf8.startIndex
        while i < utf8.endIndex {
            if utf8[i] == separator {
                pieces.append(self[start..<i])
                start = utf8.index(after: i)
            }
            i = utf8.index(after: i)
        }
        pieces.append(self[start..<endIndex])
        return pieces
    }

    /// Index of the first `byte`, or nil.
    func firstIndex(ofByte byte: UInt8) -> Index? { utf8.firstIndex(of: byte) }

    /// Everything before the first `byte` (all when absent).
    func prefix(beforeByte byte: UInt8) -> Substring { self[..<(firstIndex(ofByte: byte) ?? endIndex)] }
}
