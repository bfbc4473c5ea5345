/// Byte-level helpers: scanning `utf8` views avoids the grapheme-cluster
/// work that `Character` searches cost on every request.
extension Substring {
    /// Pieces between `separator` bytes (an ASCII separator never splits a
    /// multi-byte character), empty pieces included.
    func splitBytes(_ separator: UInt8) -> [Substring] {
        var pieces: [Substring] = []
        var rest = self
        while let i = rest.firstIndex(ofByte: separator) {
            pieces.append(rest[..<i])
            rest = rest[rest.utf8.index(after: i)...]
        }
        pieces.append(rest)
        return pieces
    }

    /// Searches the contiguous UTF-8 bytes (the generic UTF8View search is
    /// several times slower); native strings give their index for an offset
    /// in constant time.
    func firstIndex(ofByte byte: UInt8) -> Index? {
        var copy = self
        guard let offset = copy.withUTF8({ $0.firstIndex(of: byte) }) else { return nil }
        return utf8.index(utf8.startIndex, offsetBy: offset)
    }
}
