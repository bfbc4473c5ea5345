/// What an executable's ELF headers say about the TLS it may carry inside,
/// read at each exec of every process the tracer may trace: the TLS
/// libraries it names and whether it defines `SSL_read` itself (statically
/// linked OpenSSL with symbols). Only headers, the dynamic section and the
/// symbol tables are read, never the code and data, so the cost and the
/// tracer's memory do not follow the program's size; the byte search for
/// TLS the probes cannot reach is `ExecutableMarkers`, done only when a
/// traced connection makes a warning due.
public struct ExecutableScan: Sendable, Equatable {
    /// A symbol table defines `SSL_read`: the file itself gets the probes.
    public var definesSSLRead = false
    /// Built by Go (its sections say so): crypto/tls may be linked in.
    public var isGo = false
    /// TLS libraries among its DT_NEEDED entries: known at exec, before the
    /// loader has mapped them, and still known when a short-lived process
    /// is gone by the time we look.
    public var tlsLibraryNames: [String] = []

    public init() {}

    /// The scan of the file at `path`, or why it cannot be read as ELF.
    public static func scan(path: String) -> Result<ExecutableScan, ELFError> {
        Result {
            let file = try BoundedFileReader(path: path)
            return try scan(ELFImage(file))
        }.mapError { $0 as? ELFError ?? .notELF }
    }

    static func scan(_ image: ELFImage) throws -> ExecutableScan {
        var result = ExecutableScan()
        result.tlsLibraryNames = try image.neededLibraries().filter { TLSStack.ofLibrary(named: $0[...]) != nil }
        result.definesSSLRead = try image.definesFunction("SSL_read")
        result.isGo = image.hasSection(named: ".go.buildinfo") || image.hasSection(named: ".gopclntab")
            || image.hasSection(named: ".note.go.buildid")
        return result
    }
}

/// Text in an executable's bytes that names TLS no probe of ours reaches:
/// Go's crypto/tls (its names survive stripping) or an OpenSSL version with
/// no symbol to attach to. Found by streaming the file through one bounded
/// buffer — a cost that follows the file's size, so it is paid only for an
/// executable with a traced connection, once, and never in memory.
public struct ExecutableMarkers: Sendable, Equatable {
    public var hasGoCryptoTLS = false
    public var hasOpenSSLVersion = false

    public init(hasGoCryptoTLS: Bool = false, hasOpenSSLVersion: Bool = false) {
        self.hasGoCryptoTLS = hasGoCryptoTLS
        self.hasOpenSSLVersion = hasOpenSSLVersion
    }

    static let goTLS = Array("crypto/tls.(*Conn)".utf8)
    static let openSSLVersions = [Array("OpenSSL 1.1.".utf8), Array("OpenSSL 3.".utf8)]

    /// Searches the file at `path`; nil when it cannot be opened.
    public static func search(path: String) -> ExecutableMarkers? {
        guard let file = try? BoundedFileReader(path: path) else { return nil }
        let found = file.contains([goTLS] + openSSLVersions, in: 0..<file.size)
        return ExecutableMarkers(hasGoCryptoTLS: found.contains(0), hasOpenSSLVersion: found.contains(1) || found.contains(2))
    }
}
