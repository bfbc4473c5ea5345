/// What the first bytes of a connection said it carries.
public enum DetectedProtocol: Sendable, Equatable {
    /// Not enough bytes yet.
    case undecided
    case http1
    /// The HTTP/2 client preface was seen; parsed by the HTTP/2 layer.
    case http2
    /// Not HTTP: the capture was told to stop sending its bytes.
    case notHTTP
    /// HTTP/1.1 that switched protocols (101) or became a CONNECT tunnel.
    case tunnel
    /// TLS records in the syscall bytes, and no OpenSSL plaintext yet.
    case awaitingTLSPlaintext
}
