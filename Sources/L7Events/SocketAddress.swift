/// An IPv4 or IPv6 address and port, as the kernel reported it.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: UInt8, Sendable {
        case ipv4 = 4
        case ipv6 = 6
    }

    public var family: Family
    /// The address bytes in network order, packed big-endian: IPv4 in the
    /// high 4 bytes of `high`, IPv6 across both. Kept inline (no array) so
    /// that exchanges carrying addresses copy without reference counting.
    private var high: UInt64
    private var low: UInt64
    public var port: UInt16

    /// `bytes`: 4 for IPv4, 16 for IPv6, in network order (missing bytes are zeros).
    public init(family: Family, bytes: [UInt8], port: UInt16) {
        self.family = family
        self.port = port
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<(family == .ipv4 ? 4 : 16) {
            let b = UInt64(i < bytes.count ? bytes[i] : 0)
            if i < 8 { h |= b << (56 - 8 * UInt64(i)) } else { l |= b << (56 - 8 * UInt64(i - 8)) }
        }
        high = h; low = l
    }

    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        self.init(family: .ipv4, bytes: [a, b, c, d], port: port)
    }

    private init(family: Family, high: UInt64, low: UInt64, port: UInt16) {
        self.family = family; self.high = high; self.low = low; self.port = port
    }

    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public var bytes: [UInt8] {
        let all = withUnsafeBytes(of: high.bigEndian, Array.init) + withUnsafeBytes(of: low.bigEndian, Array.init)
        return family == .ipv4 ? Array(all.prefix(4)) : all
    }

    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is reported as IPv4,
    /// the way users write it.
    public var canonical: SocketAddress {
        guard family == .ipv6, high == 0, low >> 32 == 0xffff else { return self }
        return SocketAddress(family: .ipv4, high: (low & 0xffff_ffff) << 32, low: 0, port: port)
    }

    /// 127.0.0.0/8 or ::1 (IPv4-mapped addresses included).
    public var isLoopback: Bool {
        let c = canonical
        return c.family == .ipv4 ? c.high >> 56 == 127 : c.high == 0 && c.low == 1
    }

    /// The address without the port: `127.0.0.1`, `::1`.
    public var host: String {
        let c = canonical
        switch c.family {
        case .ipv4:
            return Self.formatIPv4(UInt32(truncatingIfNeeded: c.high >> 32))
        case .ipv6:
            return Self.formatIPv6(c.bytes)
        }
    }

    public var description: String {
        family == .ipv6 && canonical.family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Dotted decimal written into a stack buffer: at most 15 bytes, so the
    /// String is stored inline and nothing is allocated.
    private static func formatIPv4(_ address: UInt32) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            var n = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int((address >> UInt32(shift)) & 0xff)
                if shift != 24 { buffer[n] = 0x2E; n += 1 }
                if octet >= 100 { buffer[n] = UInt8(0x30 + octet / 100); n += 1 }
                if octet >= 10 { buffer[n] = UInt8(0x30 + octet / 10 % 10); n += 1 }
                buffer[n] = UInt8(0x30 + octet % 10); n += 1
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<n]), as: UTF8.self)
        }
    }

    /// RFC 5952 text form: lowercase, the longest run of zero groups as `::`.
    private static func formatIPv6(_ b: [UInt8]) -> String {
        guard b.count == 16 else { return "::" }
        var groups = [UInt16]()
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(b[i]) << 8 | UInt16(b[i + 1])) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(groups[...]) }
        return hex(groups[0..<bestStart]) + "::" + hex(groups[(bestStart + bestLen)...])
    }
}
