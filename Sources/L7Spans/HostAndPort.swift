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
        let text = TraceState.trimOWS(text)
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            port = rest.first == ":" ? Self.port(rest.dropFirst()) : nil
        } else if let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...].firstIndex(of: ":") == nil {
            host = text[..<colon]
            port = Self.port(text[text.index(after: colon)...])
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
    var hostForURL: String { host.contains(":") ? "[\(host)]" : String(host) }

    static func defaultPort(scheme: String) -> Int? {
        switch scheme {
        case "http", "ws": return 80
        case "https", "wss": return 443
        default: return nil
        }
    }
}
