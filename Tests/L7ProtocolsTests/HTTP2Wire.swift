import CNghttp2
@testable import L7Protocols

/// Builds HTTP/2 bytes for tests: frames by hand, header blocks with
/// libnghttp2's own HPACK encoder (an implementation independent of ours).
final class HPACKEncoder {
    private var deflater: OpaquePointer?

    init(maxTableSize: Int = 4096) {
        var d: OpaquePointer?
        precondition(nghttp2_hd_deflate_new(&d, maxTableSize) == 0)
        deflater = d
    }

    deinit { nghttp2_hd_deflate_del(deflater) }

    /// Tells the encoder the decoder's new limit; its next block starts with a size update.
    func changeTableSize(_ size: Int) { precondition(nghttp2_hd_deflate_change_table_size(deflater, size) == 0) }

    func encode(_ fields: [(String, String)]) -> [UInt8] {
        var names = fields.map { Array($0.0.utf8) }
        var values = fields.map { Array($0.1.utf8) }
        var out = [UInt8](repeating: 0, count: 64 * 1024)
        let n: Int = names.withUnsafeMutableBufferPointer { namesBuffer in
            values.withUnsafeMutableBufferPointer { valuesBuffer in
                var nva: [nghttp2_nv] = []
                for i in 0..<fields.count {
                    let name = namesBuffer[i].withUnsafeMutableBufferPointer { $0.baseAddress! }
                    let value = valuesBuffer[i].withUnsafeMutableBufferPointer { $0.baseAddress ?? name }
                    nva.append(nghttp2_nv(name: name, value: value, namelen: namesBuffer[i].count,
                                          valuelen: valuesBuffer[i].count, flags: 0))
                }
                return out.withUnsafeMutableBufferPointer { o in
                    nghttp2_hd_deflate_hd(deflater, o.baseAddress, o.count, nva, nva.count)
                }
            }
        }
        precondition(n >= 0)
        return Array(out[0..<n])
    }
}

enum H2 {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(_ type: HTTP2FrameHeader.FrameType, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type.rawValue, flags,
                UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)]
            + payload
    }

    static func settings(_ values: [(UInt16, UInt32)] = [], ack: Bool = false) -> [UInt8] {
        var p: [UInt8] = []
        for (id, v) in values { p += [UInt8(id >> 8), UInt8(id & 0xff)] + be32(v) }
        return frame(.settings, flags: ack ? 1 : 0, stream: 0, p)
    }

    static func headers(_ block: [UInt8], stream: UInt32, endStream: Bool = false) -> [UInt8] {
        frame(.headers, flags: 0x4 | (endStream ? 1 : 0), stream: stream, block)
    }

    static func data(_ count: Int, stream: UInt32, endStream: Bool = false, fill: UInt8 = 0x61) -> [UInt8] {
        frame(.data, flags: endStream ? 1 : 0, stream: stream, [UInt8](repeating: fill, count: count))
    }

    static func data(_ bytes: [UInt8], stream: UInt32, endStream: Bool = false) -> [UInt8] {
        frame(.data, flags: endStream ? 1 : 0, stream: stream, bytes)
    }

    static func rst(stream: UInt32, code: UInt32) -> [UInt8] { frame(.rstStream, stream: stream, be32(code)) }

    static func goaway(last: UInt32, code: UInt32) -> [UInt8] { frame(.goaway, stream: 0, be32(last) + be32(code)) }

    static func windowUpdate(stream: UInt32, _ n: UInt32 = 65535) -> [UInt8] { frame(.windowUpdate, stream: stream, be32(n)) }

    static func ping() -> [UInt8] { frame(.ping, stream: 0, [UInt8](repeating: 1, count: 8)) }

    /// gRPC messages: flag, 4-byte length, payload.
    static func grpcMessages(_ sizes: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for n in sizes { out += [0] + be32(UInt32(n)) + [UInt8](repeating: 0x2a, count: n) }
        return out
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    static func request(_ method: String = "GET", _ path: String, authority: String = "example.com:8080",
                        extra: [(String, String)] = []) -> [(String, String)] {
        [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)] + extra
    }

    static func grpcRequest(_ path: String, extra: [(String, String)] = []) -> [(String, String)] {
        request("POST", path, authority: "localhost:50051",
                extra: [("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "grpc-python/1.0")] + extra)
    }
}
