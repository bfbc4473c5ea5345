/// Where captured bytes came from: the socket syscall (which, on a TLS
/// connection, carries ciphertext) or an OpenSSL read/write (plaintext).
public enum DataSource: UInt8, Sendable {
    case syscall = 0
    case ssl = 1
}
