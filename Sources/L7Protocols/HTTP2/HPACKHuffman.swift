/// Decodes HPACK Huffman strings (RFC 7541 §5.2, code of Appendix B) in
/// Swift, straight into the caller's buffer: no allocation and no C call per
/// string (libnghttp2 offers no Huffman entry point of its own, and going
/// through its inflater cost a block built and two allocations per string).
///
/// The code is canonical, so it is fully given by each symbol's length; codes
/// of up to 8 bits are found with one table lookup, longer ones by comparing
/// the next 32 bits with each length's first code past the last.
enum HPACKHuffman {
    /// Appends the decoded bytes to `bytes`; false (and nothing appended)
    /// when the input is not valid Huffman code: padding longer than 7 bits
    /// or not all ones, or the EOS symbol inside the string.
    static func decode(_ encoded: UnsafeRawBufferPointer, appendingTo bytes: inout [UInt8]) -> Bool {
        guard !encoded.isEmpty else { return true }
        // The shortest code is 5 bits: at most 8/5 output bytes per input byte.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: encoded.count * 8 / 5 + 1) { out in
            guard let n = decode(encoded, into: out) else { return false }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: out[0..<n]))
            return true
        }
    }

    /// Decodes into `out` (large enough); the count written, or nil when invalid.
    private static func decode(_ encoded: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        let t = tables
        var written = 0
        var acc: UInt64 = 0  // bits left-justified
        var bits = 0
        var next = 0
        while true {
            while bits <= 56 && next < encoded.count {
                acc |= UInt64(encoded[next]) << UInt64(56 - bits)
                bits += 8
                next += 1
            }
            if bits == 0 { return written }
            // Past the input, read ones: padding is a prefix of EOS (all ones).
            let window = UInt32(truncatingIfNeeded: (bits >= 64 ? acc : acc | (~UInt64(0) >> UInt64(bits))) >> 32)
            var length: Int
            var symbol: Int
            let quick = Int(t.firstByte[Int(window >> 24)])
            if quick != 0 {
                length = quick >> 9
                symbol = quick & 0x1FF
            } else {
                length = 9
                while UInt64(window) >= t.limit[length] { length += 1 }
                symbol = Int(t.symbols[t.base[length] + Int(window >> UInt32(32 - length))])
            }
            if length > bits {
                // What is left must be padding: fewer than 8 bits, all ones.
                let allOnes = acc >> UInt64(64 - bits) == (UInt64(1) << UInt64(bits)) - 1
                return bits <= 7 && allOnes ? written : nil
            }
            if symbol == 256 { return nil }
            out[written] = UInt8(truncatingIfNeeded: symbol)
            written += 1
            acc <<= UInt64(length)
            bits -= length
        }
    }

    /// Code length of each byte value; EOS (256) is 30 bits.
    static let codeLengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    ] + [30]

    private static let tables = Tables()

    /// Decoding tables, built once and never freed: plain pointers, so that
    /// reading them costs no reference counting.
    // @unchecked: the pointers are written in init only, then only read; never freed.
    private struct Tables: @unchecked Sendable {
        /// By first byte, for codes of at most 8 bits: symbol | length << 9 (0: a longer code).
        let firstByte: UnsafeMutablePointer<UInt16>
        /// Symbols ordered by code (length, then value).
        let symbols: UnsafeMutablePointer<UInt16>
        /// Per length: the first code of the next length as a left-justified
        /// 32-bit value, and what to add to a code to find its symbol's index.
        let limit: UnsafeMutablePointer<UInt64>
        let base: UnsafeMutablePointer<Int>

        init() {
            let lengths = HPACKHuffman.codeLengths.map(Int.init)
            firstByte = .allocate(capacity: 256)
            firstByte.initialize(repeating: 0, count: 256)
            symbols = .allocate(capacity: lengths.count)
            limit = .allocate(capacity: 32)
            limit.initialize(repeating: UInt64.max, count: 32)
            base = .allocate(capacity: 32)
            base.initialize(repeating: 0, count: 32)
            let ordered = (0..<lengths.count).sorted { (lengths[$0], $0) < (lengths[$1], $1) }
            for (i, symbol) in ordered.enumerated() { symbols[i] = UInt16(symbol) }
            var count = [Int](repeating: 0, count: 32)
            for length in lengths { count[length] += 1 }
            var code = 0, index = 0
            for length in 1...30 {
                base[length] = index - code
                for k in 0..<count[length] where length <= 8 {
                    let first = (code + k) << (8 - length), end = (code + k + 1) << (8 - length)
                    for byte in first..<end { firstByte[byte] = symbols[index + k] | UInt16(length) << 9 }
                }
                code += count[length]
                index += count[length]
                limit[length] = UInt64(code) << UInt64(32 - length)
                code <<= 1
            }
        }
    }
}
