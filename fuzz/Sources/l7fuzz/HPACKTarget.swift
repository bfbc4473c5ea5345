// HPACK alone. Input: a settings byte, then header blocks of one direction,
// each as u16be length + bytes; a zero-length block starts a new stream
// (the stitcher's decoded list is emptied, as for a new stream).
//   settings byte: bit 0 the decoder saw the connection from its start;
//   bits 1…2 pick SETTINGS_HEADER_TABLE_SIZE from `tableSizes`.
@testable import L7Protocols

enum HPACKTarget {
    static let tableSizes = [4096, 0, 256, 65536]

    static func run(_ input: Input) {
        let bytes = Array(input.bytes)
        guard let settings = bytes.first else { return }
        let blocks = split(bytes.dropFirst())
        let fields = MemoryBudget.check("hpack", inputBytes: bytes.count) {
            decodeAll(blocks, startsEmpty: settings & 1 != 0, tableSize: tableSizes[Int(settings >> 1 & 3)])
        }
        // Decoding is a function of the input: a second decoder agrees field by field.
        let again = decodeAll(blocks, startsEmpty: settings & 1 != 0, tableSize: tableSizes[Int(settings >> 1 & 3)])
        if fields != again { violated("two decoders of the same blocks disagree") }
    }

    static func split(_ rest: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var blocks: [ArraySlice<UInt8>] = []
        var i = rest.startIndex
        while i + 1 < rest.endIndex {
            let n = Int(rest[i]) << 8 | Int(rest[i + 1])
            let end = min(rest.endIndex, i + 2 + n)
            blocks.append(rest[(i + 2)..<end])
            i = end
        }
        return blocks
    }

    /// Decodes the blocks in order; the fields of every stream, as text.
    static func decodeAll(_ blocks: [ArraySlice<UInt8>], startsEmpty: Bool, tableSize: Int) -> [HPACKField] {
        var decoder = HPACKDecoder(startsEmpty: startsEmpty)
        decoder.settingsChanged(headerTableSize: tableSize)
        var list = HPACKHeaderList()
        var all: [HPACKField] = []
        for block in blocks {
            if block.isEmpty {
                all += list.decodedFields(in: 0..<list.count)
                list.removeAll()
                continue
            }
            let before = (fields: list.count, bytes: list.bytes.count)
            do {
                try block.withUnsafeBytes { try decoder.decode($0, into: &list) }
            } catch {
                // A failed block leaves the list as it was.
                if list.count != before.fields || list.bytes.count != before.bytes {
                    violated("a malformed block left \(list.count - before.fields) fields behind")
                }
            }
            // RFC 7541 §6.3: a size update above SETTINGS_HEADER_TABLE_SIZE is a decoding error.
            if decoder.maxSize > decoder.settingsLimit {
                violated("table size \(decoder.maxSize) accepted above the settings limit \(decoder.settingsLimit)")
            }
            // Every entry costs at least 32 bytes of the table's size.
            if decoder.table.count > max(decoder.maxSize, 0) / 32 {
                violated("\(decoder.table.count) entries in a table of \(decoder.maxSize) bytes")
            }
        }
        return all + list.decodedFields(in: 0..<list.count)
    }
}
