import CNghttp2
@testable import L7Protocols
import XCTest

/// Our Huffman decoder against libnghttp2's encoder, for every byte value,
/// and the invalid endings RFC 7541 §5.2 names.
final class HTTP2HuffmanTests: XCTestCase {
    /// libnghttp2's encoding of one never-indexed field `x: value` (Huffman when shorter).
    private func encodedBlock(value: [UInt8]) -> [UInt8] {
        var deflater: OpaquePointer?
        precondition(nghttp2_hd_deflate_new(&deflater, 4096) == 0)
        defer { nghttp2_hd_deflate_del(deflater) }
        var name: [UInt8] = [UInt8(ascii: "x")]
        var value = value
        var out = [UInt8](repeating: 0, count: 4096)
        let n = name.withUnsafeMutableBufferPointer { nameBuffer in
            value.withUnsafeMutableBufferPointer { valueBuffer in
                var nv = nghttp2_nv(name: nameBuffer.baseAddress, value: valueBuffer.baseAddress, namelen: 1,
                                    valuelen: valueBuffer.count, flags: UInt8(NGHTTP2_NV_FLAG_NO_INDEX.rawValue))
                return out.withUnsafeMutableBufferPointer { nghttp2_hd_deflate_hd(deflater, $0.baseAddress, $0.count, &nv, 1) }
            }
        }
        precondition(n > 0)
        return Array(out[0..<n])
    }

    private func decodedValue(_ block: [UInt8]) throws -> [UInt8]? {
        var decoder = HPACKDecoder(startsEmpty: true)
        var list = HPACKHeaderList()
        try block.withUnsafeBytes { try decoder.decode($0, into: &list) }
        return list.withField(0) { _, value in value.map { Array($0) } }
    }

    func testEveryByteValueDecodesAsLibnghttp2EncodedIt() throws {
        for byte in 0...255 {
            // Padded with short codes so that the encoder picks Huffman.
            let value = [UInt8(byte)] + Array("aeiou012".utf8) + [UInt8(byte), UInt8(255 - byte)] + Array("tsc".utf8)
            let block = encodedBlock(value: value)
            XCTAssertEqual(try decodedValue(block), value, "byte \(byte)")
        }
        let long = Array("/api/v1/orders?customer=4711&include=items,shipping&limit=100".utf8)
        XCTAssertNotEqual(encodedBlock(value: long)[3] & 0x80, 0, "Huffman-coded")
        XCTAssertEqual(try decodedValue(encodedBlock(value: long)), long)
    }

    func testInvalidEndingsAreRejected() {
        func decode(_ bytes: [UInt8]) -> [UInt8]? {
            var out: [UInt8] = [9]
            let ok = bytes.withUnsafeBytes { HPACKHuffman.decode($0, appendingTo: &out) }
            if !ok { XCTAssertEqual(out, [9], "nothing appended on failure") }
            return ok ? Array(out.dropFirst()) : nil
        }
        XCTAssertEqual(decode([0x07]), Array("0".utf8), "'0' (00000) then three padding ones")
        XCTAssertEqual(decode([]), [])
        XCTAssertNil(decode([0x00]), "padding of zeros")
        XCTAssertNil(decode([0x07, 0xFF]), "padding longer than 7 bits")
        XCTAssertNil(decode([0xFF, 0xFF, 0xFF, 0xFF]), "EOS inside the string")
        XCTAssertNil(decode([0x80]), "a code cut short, padded with zeros")
    }
}
