#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import L7Events
import L7Protocols

/// The last Host, User-Agent and peer address a span builder decoded, with
/// what they became. Consecutive requests mostly repeat them (a keep-alive
/// connection, a fleet of identical clients), and comparing a few bytes costs
/// far less than making and parsing Strings again. One per builder; a builder
/// stays on one thread.
final class RecentFieldValues {
    private var hostBytes: [UInt8] = []
    private var host: HostAndPort?
    private var userAgentBytes: [UInt8] = []
    private var userAgent = ""
    private var peer: SocketAddress?
    private var peerHost = ""

    /// HTTP/2's `:authority`, else `Host`.
    func hostField(_ headers: HTTPHeaders) -> HostAndPort? {
        if headers.notable.contains(.authority), let value = headers.withFirstValue(":authority", parsedHost) {
            return value
        }
        guard headers.notable.contains(.host) else { return nil }
        return headers.withFirstValue("host", parsedHost) ?? nil
    }

    func userAgent(_ headers: HTTPHeaders) -> String? {
        guard headers.notable.contains(.userAgent) else { return nil }
        return headers.withFirstValue("user-agent") { bytes in
            if !Self.same(bytes, userAgentBytes) {
                userAgentBytes = Array(bytes)
                userAgent = String(decoding: bytes, as: UTF8.self)
            }
            return userAgent
        }
    }

    /// `address.host`, formatted once per distinct address in a row (any port).
    func host(of address: SocketAddress) -> String {
        var withoutPort = address
        withoutPort.port = 0
        if withoutPort != peer {
            peer = withoutPort
            peerHost = address.host
        }
        return peerHost
    }

    private func parsedHost(_ bytes: UnsafeRawBufferPointer) -> HostAndPort? {
        if !Self.same(bytes, hostBytes) {
            hostBytes = Array(bytes)
            host = HostAndPort.parse(bytes)
        }
        return host
    }

    private static func same(_ bytes: UnsafeRawBufferPointer, _ remembered: [UInt8]) -> Bool {
        guard bytes.count == remembered.count else { return false }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        return remembered.withUnsafeBytes { memcmp(base, $0.baseAddress!, bytes.count) == 0 }
    }
}
