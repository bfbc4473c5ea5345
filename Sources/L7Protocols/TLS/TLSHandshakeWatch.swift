import L7Events

/// Watches the syscall bytes (ciphertext) of a connection that starts with
/// TLS records, to tell when application data passes that no probe gave us
/// the plaintext of.
///
/// The direction whose first record is a ClientHello is the client's. Its
/// records after the handshake are application data; in TLS 1.3 its first
/// encrypted record (type 0x17 like application data) is still the
/// handshake's Finished — and its first three when the server may have asked
/// for a client certificate (Certificate, CertificateVerify, Finished): told
/// by the server's encrypted flight having a fifth record, a
/// CertificateRequest beside EncryptedExtensions, Certificate,
/// CertificateVerify and Finished. The version is read from the
/// ServerHello's supported_versions extension; when it cannot be read TLS
/// 1.3 is assumed. Both guesses err towards silence. Bytes in, verdict out.
///
/// Why this tells traced from untraced: OpenSSL's reads and writes on a
/// socket are followed by the probes, and the socket calls made inside them
/// are not sent as syscall bytes — so a traced connection shows only its
/// handshake here. A stack no probe follows (Go, GnuTLS, BoringSSL in
/// grpcio, OpenSSL through memory BIOs as in Node.js or asyncio) shows its
/// application data too.
public struct TLSHandshakeWatch {
    public enum Verdict: Equatable {
        /// Still in the handshake (or nothing decided yet).
        case watching
        /// The client sent application data after the handshake.
        case applicationData
        /// Application data without a handshake first: the connection was
        /// established before it was watched (or is not TLS at all).
        case midStream
        /// Not a TLS handshake start: nothing more to watch.
        case notHandshake
    }

    public enum Version: Equatable { case unknown, tls12, tls13 }

    private var egress = TLSRecordReader()
    private var ingress = TLSRecordReader()
    public private(set) var verdict = Verdict.watching
    /// The direction the ClientHello went (egress: the process is the client).
    public private(set) var clientDirection: Direction?
    public private(set) var version = Version.unknown
    /// Application-data records the client sent, counting TLS 1.3's Finished.
    private var clientApplicationRecords = 0
    /// The server's encrypted records before the client's first one (TLS 1.3's encrypted flight).
    private var serverFlightRecords = 0
    /// The client's current call carried a record of the handshake.
    private var clientCallHadHandshake = false
    /// Application data came in the same call as the end of the client's
    /// handshake: a server reading both at once inside SSL_do_handshake (no
    /// probe follows it) is traced all the same, so this alone decides
    /// nothing — only if the connection ends with no plaintext at all.
    public private(set) var applicationDataWithHandshake = false

    public init() {}

    /// Feeds one chunk of a call; returns the verdict so far.
    @discardableResult
    public mutating func feed(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, leadingHole: Int = 0,
                              startsCall: Bool = true, trailingHole: Int = 0) -> Verdict {
        guard verdict == .watching else { return verdict }
        var types: [UInt8] = []
        var firstType: UInt8?
        if direction == .egress {
            let before = egress.records
            egress.feed(bytes, leadingHole: leadingHole, startsCall: startsCall, trailingHole: trailingHole) { record in
                types.append(record.contentType)
            }
            if before == 0 { firstType = egress.firstRecord?.contentType }
        } else {
            let before = ingress.records
            ingress.feed(bytes, leadingHole: leadingHole, startsCall: startsCall, trailingHole: trailingHole) { record in
                types.append(record.contentType)
            }
            if before == 0 { firstType = ingress.firstRecord?.contentType }
        }
        if let firstType, firstType != TLSRecordReader.handshake {
            verdict = firstType == TLSRecordReader.applicationData && clientDirection == nil ? .midStream : .notHandshake
            return verdict
        }
        identifyHellos()
        guard let clientDirection else { return verdict }
        if clientDirection == direction {
            if startsCall { clientCallHadHandshake = false }
            for type in types { clientRecord(type) }
        } else if clientApplicationRecords == 0 {
            serverFlightRecords += types.filter { $0 == TLSRecordReader.applicationData }.count
        }
        return verdict
    }

    private mutating func clientRecord(_ type: UInt8) {
        guard verdict == .watching else { return }
        switch type {
        case TLSRecordReader.applicationData:
            clientApplicationRecords += 1
            let handshakeRecords = version == .tls12 ? 0 : serverFlightRecords >= 5 ? 3 : 1
            if clientApplicationRecords <= handshakeRecords {
                clientCallHadHandshake = true
            } else if clientCallHadHandshake {
                applicationDataWithHandshake = true
            } else {
                verdict = .applicationData
            }
        case TLSRecordReader.handshake, 0x14:
            if clientApplicationRecords == 0 { clientCallHadHandshake = true }
        default:
            break
        }
    }

    /// Reads the ClientHello's direction and the ServerHello's version once their bodies are there.
    private mutating func identifyHellos() {
        if clientDirection == nil {
            if Self.startsHandshake(egress, type: 1) {
                clientDirection = .egress
            } else if Self.startsHandshake(ingress, type: 1) {
                clientDirection = .ingress
            } else if egress.firstBodyDone && ingress.firstBodyDone {
                verdict = .notHandshake // two first records, neither a ClientHello
                return
            }
        }
        guard let clientDirection, version == .unknown else { return }
        let server = clientDirection == .egress ? ingress : egress
        guard server.firstBodyDone, Self.startsHandshake(server, type: 2) else { return }
        version = Self.serverHelloVersion(server.firstBody)
    }

    private static func startsHandshake(_ reader: TLSRecordReader, type: UInt8) -> Bool {
        reader.firstRecord?.contentType == TLSRecordReader.handshake && reader.firstBody.first == type
    }

    /// TLS 1.3 when the ServerHello carries supported_versions = 0x0304;
    /// TLS 1.2 when its extensions were read whole without it.
    static func serverHelloVersion(_ body: [UInt8]) -> Version {
        // type(1) length(3) legacy_version(2) random(32) session_id(1+n) cipher(2) compression(1) extensions(2+n)
        var i = 4 + 2 + 32
        guard body.count > i else { return .unknown }
        i += 1 + Int(body[i])
        i += 2 + 1
        guard body.count >= i + 2 else { return .unknown }
        let end = i + 2 + (Int(body[i]) << 8 | Int(body[i + 1]))
        i += 2
        while i + 4 <= min(end, body.count) {
            let type = Int(body[i]) << 8 | Int(body[i + 1])
            let length = Int(body[i + 2]) << 8 | Int(body[i + 3])
            i += 4
            if type == 0x002b {
                guard length == 2, i + 2 <= body.count else { return .unknown }
                return body[i] == 0x03 && body[i + 1] == 0x04 ? .tls13 : .tls12
            }
            i += length
        }
        return end <= body.count ? .tls12 : .unknown
    }
}
