/// An IPv4 or IPv6 address and port, as the kernel reported it.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: UInt8, Sendable {
        case ipv4 = 4
        case ipv6 = 6
    }

    public var family: Family
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public var bytes: [UInt8]
    public var port: UInt16

    public init(family: Family, bytes: [UInt8], port: UInt16) {
        self.family = family
        self.bytes = bytes
        self.port = port
    }

    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        self.init(family: .ipv4, bytes: [a, b, c, d], port: port)
    }

    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is reported as IPv4,
    /// the way users write it.
    public var canonical: SocketAddress {
        guard family == .ipv6, bytes.count == 16,
              bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff
        else { return self }
        return SocketAddress(family: .ipv4, bytes: Array(bytes[12..<16]), port: port)
    }

    public var isLoopback: Bool {
        let c = canonical
        switch c.family {
        case .ipv4: return c.bytes.first == 127
        case .ipv6: return c.bytes == [UInt8](repeating: 0, count: 15) + [1]
        }
    }

    /// The address without the port: `127.0.0.1`, `::1`.
    public var host: String {
        let c = canonical
        switch c.family {
        case .ipv4:
            return c.bytes.map(String.init).joined(separator: ".")
        case .ipv6:
            return Self.formatIPv6(c.bytes)
        }
    }

    public var description: String {
        family == .ipv6 && canonical.family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
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
