// HPACK's Huffman decoder against a bit-by-bit reference written here.
@testable import L7Protocols

enum HuffmanTarget {
    static func run(_ input: Input) {
        var fast: [UInt8] = []
        let ok = HPACKHuffman.decode(input.bytes, appendingTo: &fast)
        let slow = ReferenceHuffman.decode(input.bytes)
        switch (ok, slow) {
        case (true, let expected?) where expected == fast: break
        case (false, nil) where fast.isEmpty: break
        default:
            violated("Huffman: decoder says \(ok ? "\(fast)" : "invalid (\(fast.count) bytes appended)"), reference says \(slow.map { "\($0)" } ?? "invalid")")
        }
    }
}

/// RFC 7541 Appendix B decoded one bit at a time. The code is canonical, so
/// the codes follow from the lengths (ordered by length, then symbol); the
/// lengths come from the decoder's table and are checked here against codes
/// copied from the RFC by hand.
enum ReferenceHuffman {
    /// code → symbol, per code length.
    static let codes: [[UInt32: Int]] = {
        let lengths = HPACKHuffman.codeLengths.map(Int.init)
        precondition(lengths.count == 257, "257 symbols (256 bytes and EOS)")
        var byLength = [[UInt32: Int]](repeating: [:], count: 31)
        var code: UInt32 = 0, previous = 0
        for symbol in (0..<257).sorted(by: { (lengths[$0], $0) < (lengths[$1], $1) }) {
            let length = lengths[symbol]
            if previous != 0 { code = (code + 1) << UInt32(length - previous) } else { code = 0 }
            previous = length
            byLength[length][code] = symbol
        }
        // Spot checks from the RFC's table.
        let rfc: [(symbol: Int, code: UInt32, length: Int)] = [
            (0x30, 0x0, 5), (0x61, 0x3, 5), (0x20, 0x14, 6), (0x3A, 0x5C, 7), (0x00, 0x1FF8, 13),
            (0xFF, 0x3FFFFEE, 26), (0x0A, 0x3FFFFFFC, 30), (256, 0x3FFFFFFF, 30),
        ]
        for e in rfc where byLength[e.length][e.code] != e.symbol {
            preconditionFailure("reference Huffman code of \(e.symbol) differs from RFC 7541")
        }
        return byLength
    }()

    /// The decoded bytes, or nil when the input is not a valid HPACK Huffman string.
    static func decode(_ encoded: UnsafeRawBufferPointer) -> [UInt8]? {
        var out: [UInt8] = []
        var code: UInt32 = 0, length = 0
        for byte in encoded {
            for bit in (0..<8).reversed() {
                code = code << 1 | UInt32(byte >> UInt8(bit) & 1)
                length += 1
                if length > 30 { return nil }
                guard let symbol = codes[length][code] else { continue }
                if symbol == 256 { return nil }  // EOS inside the string
                out.append(UInt8(symbol))
                code = 0; length = 0
            }
        }
        // Padding: at most 7 bits, all ones (the start of EOS).
        guard length <= 7, code == (UInt32(1) << UInt32(length)) - 1 else { return nil }
        return out
    }
}
