/// A host and optional port as written in `Host`, `Forwarded: host=`,
/// `X-Forwarded-Host` or a URI authority: `example.com`, `example.com:8080`,
/// `[::1]:8080`, or a bare IPv6 address (as `X-Forwarded-For` carries it).
struct HostAndPort: Equatable {
    /// Without brackets: `::1`, not `[::1]`.
    var host: Substring
    var port: Int?

    init(host: Substring, port: Int?) { self.host = host; self.port = port }

    /// Nil when there is no host. Works on UTF-8 bytes: Character-based
    /// searches are far slower and these values are ASCII.
    init?(_ text: Substring) {
        let text = TraceState.trimOWS(text)
        let u = text.utf8
        if u.first == 0x5B {  // [
            guard let close = u.firstIndex(of: 0x5D) else { return nil }
            host = text[u.index(after: u.startIndex)..<close]
            let rest = text[u.index(after: close)...]
            port = rest.utf8.first == 0x3A ? Self.port(rest.dropFirst()) : nil
        } else if let colon = u.firstIndex(of: 0x3A), u[u.index(after: colon)...].firstIndex(of: 0x3A) == nil {
            host = text[..<colon]
            port = Self.port(text[u.index(after: colon)...])
        } else {
            // No colon, or several: a name, or an IPv6 address without brackets.
            host = text
            port = nil
        }
        if host.isEmpty { return nil }
    }

    /// 0…65535 in decimal, else nil.
    static func port(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.utf8.count <= 5 else { return nil }
        var v = 0
        for c in s.utf8 {
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
