import CNghttp2

/// Decodes HPACK Huffman strings with libnghttp2's inflater (see the C shim:
/// the string is wrapped in a one-field block that leaves the inflater's
/// table alone). Owns one inflater, reused for every string of a direction.
final class HPACKHuffman {
    private var inflater: OpaquePointer?
    /// Scratch for decoded bytes, reused; Huffman never expands a byte past 8/5.
    private var output: [UInt8] = []

    init() {
        var created: OpaquePointer?
        if nghttp2_hd_inflate_new(&created) == 0 { inflater = created }
    }

    deinit { if let inflater { nghttp2_hd_inflate_del(inflater) } }

    /// Appends the decoded bytes to `bytes`; false (and nothing appended)
    /// when the input is not valid Huffman code.
    func decode(_ encoded: UnsafeRawBufferPointer, appendingTo bytes: inout [UInt8]) -> Bool {
        guard inflater != nil, let base = encoded.baseAddress else { return encoded.isEmpty }
        let capacity = encoded.count * 8 / 5 + 8
        if output.count < capacity { output = [UInt8](repeating: 0, count: max(capacity, 256)) }
        return output.withUnsafeMutableBufferPointer { out -> Bool in
            let n = l7_hpack_huffman_decode(&inflater, base.assumingMemoryBound(to: UInt8.self), encoded.count,
                                            out.baseAddress, out.count)
            guard n >= 0 else { return false }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: out[0..<Int(n)]))
            return true
        }
    }

}
