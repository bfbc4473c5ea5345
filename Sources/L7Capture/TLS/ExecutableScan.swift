#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What an executable's bytes say about the TLS it may carry inside:
/// OpenSSL symbols worth trying to probe, Go's crypto/tls, or OpenSSL
/// version text with nothing to attach to. A byte search, not ELF parsing:
/// whether the symbols are really defined is left to the attach itself.
public struct ExecutableScan: Sendable, Equatable {
    /// The name `SSL_read` occurs: the file may define it (statically
    /// linked OpenSSL with symbols) or merely import it from libssl.
    public var mentionsSSLRead = false
    /// Go's TLS package is linked in (its names survive stripping).
    public var hasGoCryptoTLS = false
    /// An OpenSSL version string: OpenSSL is linked in, maybe stripped.
    public var hasOpenSSLVersion = false
    /// TLS libraries named in the file (its DT_NEEDED entries among them):
    /// known at exec, before the loader has mapped them, and still known
    /// when a short-lived process is gone by the time we look.
    public var tlsLibraryNames: [String] = []

    public init() {}

    static let sslRead = Array("SSL_read".utf8)
    static let goTLS = Array("crypto/tls.(*Conn)".utf8)
    static let openSSLVersions = [Array("OpenSSL 1.1.".utf8), Array("OpenSSL 3.".utf8)]
    static let libraryPrefixes = [Array("libssl.so.".utf8), Array("libgnutls.so.".utf8), Array("libnss3.so".utf8)]

    /// Larger files are not searched (nothing is claimed about them).
    public static let sizeLimit = 1 << 30

    /// Maps the file read-only and searches it; nil when it cannot be read.
    public static func scan(path: String) -> ExecutableScan? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size > 0, status.st_size <= sizeLimit else { return nil }
        let size = Int(status.st_size)
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return nil }
        defer { munmap(base, size) }
        return scan(UnsafeRawBufferPointer(start: base, count: size))
    }

    public static func scan(_ bytes: UnsafeRawBufferPointer) -> ExecutableScan {
        var result = ExecutableScan()
        result.mentionsSSLRead = contains(bytes, sslRead)
        result.hasGoCryptoTLS = contains(bytes, goTLS)
        result.hasOpenSSLVersion = openSSLVersions.contains { contains(bytes, $0) }
        for prefix in libraryPrefixes {
            guard let at = firstIndex(of: prefix, in: bytes) else { continue }
            var end = at
            while end < bytes.count && end - at < 64 && isNameByte(bytes[end]) { end += 1 }
            result.tlsLibraryNames.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[at..<end]), as: UTF8.self))
        }
        return result
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2e || b == 0x5f || b == 0x2d
    }

    /// memchr for the first byte, then a compare: fast on binaries, where
    /// the first byte of these needles is rare.
    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        firstIndex(of: needle, in: haystack) != nil
    }

    static func firstIndex(of needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let base = haystack.baseAddress, !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let last = haystack.count - needle.count
        var offset = 0
        return needle.withUnsafeBytes { n in
            while offset <= last {
                guard let hit = memchr(base + offset, Int32(needle[0]), last - offset + 1) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, n.baseAddress!, needle.count) == 0 { return at }
                offset = at + 1
            }
            return nil
        }
    }
}
