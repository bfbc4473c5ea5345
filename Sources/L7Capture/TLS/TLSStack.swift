/// A TLS implementation found in a process, and whether l7trace can see its
/// plaintext.
public enum TLSStack: Hashable, Sendable {
    /// OpenSSL (or a fork exporting its API) in a shared library: probed.
    case openSSLLibrary
    /// GnuTLS, NSS, Java's JSSE, Go's crypto/tls, or OpenSSL linked in
    /// without symbols: encrypted where no probe of ours reaches.
    case invisible(InvisibleTLS)

    /// What a library file is, judged by its name; nil for anything else.
    /// `libssl3.so` is NSS's, not OpenSSL's, hence the exact prefixes.
    public static func ofLibrary(named name: Substring) -> TLSStack? {
        if name.hasPrefix("libssl.so") { return .openSSLLibrary }
        if name.hasPrefix("libgnutls.so") { return .invisible(InvisibleTLS("GnuTLS", String(name))) }
        if name.hasPrefix("libnss3.so") || name.hasPrefix("libssl3.so") { return .invisible(InvisibleTLS("NSS", String(name))) }
        if name.hasPrefix("libjvm.so") { return .invisible(InvisibleTLS("Java", String(name))) }
        // grpcio's extension module: BoringSSL linked in, used through memory BIOs.
        if name.hasPrefix("cygrpc.") && name.contains(".so") {
            return .invisible(InvisibleTLS("BoringSSL in grpcio", String(name)))
        }
        return nil
    }
}

/// A TLS implementation whose plaintext no probe reaches, as the user is
/// told about it: `GnuTLS (libgnutls.so.30)`.
public struct InvisibleTLS: Hashable, Sendable, CustomStringConvertible {
    public var stack: String
    /// Where it was found (a library name), when that helps.
    public var detail: String?

    public init(_ stack: String, _ detail: String? = nil) {
        self.stack = stack
        self.detail = detail
    }

    public var description: String { detail.map { "\(stack) (\($0))" } ?? stack }
}
