import L7Basics

/// A host and optional port as written in `Host`, `Forwarded: host=`,
/// `X-Forwarded-Host` or a URI authority: `example.com`, `example.com:8080`,
/// `[::1]:8080`, or a bare IPv6 address (as `X-Forwarded-For` carries it).
struct HostAndPort: Equatable {
    /// Without brackets: `::1`, not `[::1]`.
    var host: Substring
    var port: Int?

    init(host: Substring, port: Int?) { self.host = host; self.port = port }

    /// Nil when there is no host.
    init?(_ text: Substring) {
        var text = text
        guard let parsed = text.withUTF8({ Self.parse(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    /// Parses the bytes of a field value; only the host becomes a String.
    /// (Slicing Substrings costs more than the whole parse on bytes.)
    static func parse(_ b: UnsafeRawBufferPointer) -> HostAndPort? {
        let b = ASCIIWhitespace.trimmingOWS(b)
        let lo = 0, hi = b.count
        guard lo < hi else { return nil }
        func text(_ r: Range<Int>) -> Substring { Substring(String(decoding: UnsafeRawBufferPointer(rebasing: b[r]), as: UTF8.self)) }
        if b[lo] == 0x5B {  // [
            guard let close = (lo..<hi).first(where: { b[$0] == 0x5D }) else { return nil }
            let port = close + 1 < hi && b[close + 1] == 0x3A ? portNumber(b, (close + 2)..<hi) : nil
            return close > lo + 1 ? HostAndPort(host: text((lo + 1)..<close), port: port) : nil
        }
        var colons = 0, colon = hi
        for i in lo..<hi where b[i] == 0x3A {
            colons += 1
            if colons == 1 { colon = i }
        }
        if colons == 1 {
            return colon > lo ? HostAndPort(host: text(lo..<colon), port: portNumber(b, (colon + 1)..<hi)) : nil
        }
        // No colon, or several: a name, or an IPv6 address without brackets.
        return HostAndPort(host: text(lo..<hi), port: nil)
    }

    /// 0…65535 in decimal, else nil.
    private static func portNumber(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 5 else { return nil }
        var v = 0
        for i in r {
            let c = b[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
        }
        return v <= 65535 ? v : nil
    }

    /// `host` for URLs: IPv6 addresses get their brackets back.
    var hostForURL: String { host.utf8.contains(0x3A) ? "[\(host)]" : String(host) }

    static func defaultPort(scheme: String) -> Int? {
        switch scheme {
        case "http", "ws": return 80
        case "https", "wss": return 443
        default: return nil
        }
    }
}
