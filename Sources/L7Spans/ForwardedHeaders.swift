import L7Basics
import L7Protocols

/// What a reverse proxy says about the original request, from `Forwarded`
/// (RFC 7239) and the older `X-Forwarded-*` headers. Only the first (the
/// client-most) entry counts: it names the original client and host.
struct ForwardedHeaders {
    var host: HostAndPort?
    var proto: String?
    /// The original client's address, without port.
    var clientAddress: Substring?

    /// nil when the request has none of these fields (most requests: the
    /// parser noted whether some came).
    init?(_ headers: HTTPHeaders) {
        guard headers.notable.contains(.forwarding) else { return nil }
        if let forwarded = headers["forwarded"] {
            for (key, value) in Self.firstElementParameters(Substring(forwarded)) {
                switch key.lowercased() {
                case "host": host = host ?? HostAndPort(value)
                case "proto": proto = proto ?? value.lowercased()
                case "for":
                    // "unknown" and obfuscated "_x" identifiers are not addresses.
                    if clientAddress == nil, let a = HostAndPort(value), a.host != "unknown", a.host.first != "_" {
                        clientAddress = a.host
                    }
                default: break
                }
            }
        }
        if host == nil, let xfh = headers["x-forwarded-host"], let first = Self.firstEntry(xfh) {
            host = HostAndPort(first)
        }
        if proto == nil, let xfp = headers["x-forwarded-proto"], let first = Self.firstEntry(xfp) {
            proto = first.lowercased()
        }
        if clientAddress == nil, let xff = headers["x-forwarded-for"], let first = Self.firstEntry(xff),
           let a = HostAndPort(first), a.host != "unknown" {
            clientAddress = a.host
        }
    }

    static func firstEntry(_ list: String) -> Substring? {
        let first = ASCIIWhitespace.trimmingOWS(list[..<(list.firstIndex(of: ",") ?? list.endIndex)])
        return first.isEmpty ? nil : first
    }

    /// `for=a;proto=http, for=b` → [(for, a), (proto, http)]; quotes removed.
    static func firstElementParameters(_ value: Substring) -> [(Substring, Substring)] {
        var result: [(Substring, Substring)] = []
        var pairStart = value.startIndex, i = value.startIndex, inQuotes = false
        func flush(_ end: Substring.Index) {
            let pair = value[pairStart..<end]
            guard let eq = pair.firstIndex(of: "=") else { return }
            let key = ASCIIWhitespace.trimmingOWS(pair[..<eq])
            var v = ASCIIWhitespace.trimmingOWS(pair[pair.index(after: eq)...])
            if v.count >= 2, v.first == "\"", v.last == "\"" { v = v.dropFirst().dropLast() }
            if !key.isEmpty { result.append((key, v)) }
        }
        while i < value.endIndex {
            let c = value[i]
            if c == "\"" { inQuotes.toggle() }
            else if !inQuotes && c == ";" { flush(i); pairStart = value.index(after: i) }
            else if !inQuotes && c == "," { break }
            i = value.index(after: i)
        }
        flush(i)
        return result
    }
}
