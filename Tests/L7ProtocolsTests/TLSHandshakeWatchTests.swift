import L7Events
import XCTest
@testable import L7Protocols

/// TLS records as the syscalls carry them, and what the watch makes of them.
enum TLSWire {
    static func record(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type, 0x03, 0x03, UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    }

    static func handshake(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type, 0, UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    }

    static let clientHello = record(0x16, handshake(1, [0x03, 0x03] + [UInt8](repeating: 7, count: 32) + [0]
                                                   + [0, 2, 0x13, 0x01, 1, 0] + [0, 0]))

    /// A ServerHello with a 32-byte session id; TLS 1.3 when `tls13`.
    static func serverHello(tls13: Bool) -> [UInt8] {
        var extensions: [UInt8] = [0x00, 0x33, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x00] // key_share (shortened)
        if tls13 { extensions += [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04] }
        extensions += [0xff, 0x01, 0x00, 0x01, 0x00] // renegotiation_info
        let body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 9, count: 32) + [32] + [UInt8](repeating: 5, count: 32)
            + [0x13, 0x01, 0] + [UInt8(extensions.count >> 8), UInt8(extensions.count & 0xff)] + extensions
        return record(0x16, handshake(2, body))
    }

    static let changeCipherSpec = record(0x14, [1])
    static func encrypted(_ count: Int) -> [UInt8] { record(0x17, [UInt8](repeating: 0xa5, count: count)) }
}

final class TLSHandshakeWatchTests: XCTestCase {
    private func feed(_ watch: inout TLSHandshakeWatch, _ direction: Direction, _ bytes: [UInt8],
                      trailingHole: Int = 0) -> TLSHandshakeWatch.Verdict {
        bytes.withUnsafeBytes { watch.feed(direction, $0, trailingHole: trailingHole) }
    }

    func testTLS13ClientFinishedIsHandshakeAndItsNextRecordIsApplicationData() {
        var w = TLSHandshakeWatch()
        XCTAssertEqual(feed(&w, .ingress, TLSWire.clientHello), .watching)
        XCTAssertEqual(w.clientDirection, .ingress)
        XCTAssertEqual(feed(&w, .egress, TLSWire.serverHello(tls13: true) + TLSWire.changeCipherSpec + TLSWire.encrypted(900)),
                       .watching)
        XCTAssertEqual(w.version, .tls13)
        XCTAssertEqual(feed(&w, .ingress, TLSWire.changeCipherSpec + TLSWire.encrypted(53)), .watching, "the client's Finished")
        XCTAssertEqual(feed(&w, .egress, TLSWire.encrypted(200) + TLSWire.encrypted(200)), .watching,
                       "session tickets: the server's records never decide")
        XCTAssertEqual(feed(&w, .ingress, TLSWire.encrypted(80)), .applicationData, "the first request")
    }

    func testAClientCertificateFlightIsHandshakeWhenTheServerMayHaveAskedForIt() {
        // OpenSSL server asking for a client certificate: EncryptedExtensions,
        // CertificateRequest, Certificate, CertificateVerify, Finished.
        var w = TLSHandshakeWatch()
        _ = feed(&w, .ingress, TLSWire.clientHello)
        _ = feed(&w, .egress, TLSWire.serverHello(tls13: true) + TLSWire.changeCipherSpec
                 + [30, 40, 900, 300, 53].flatMap { TLSWire.encrypted($0) })
        // Certificate, CertificateVerify, Finished, each read in its own calls.
        for size in [700, 280, 53] {
            let record = TLSWire.encrypted(size)
            _ = feed(&w, .ingress, Array(record[0..<5]))
            XCTAssertEqual(feed(&w, .ingress, Array(record[5...])), .watching)
        }
        XCTAssertEqual(feed(&w, .ingress, TLSWire.encrypted(80)), .applicationData, "the first request")

        var plain = TLSHandshakeWatch() // no CertificateRequest: four records
        _ = feed(&plain, .ingress, TLSWire.clientHello)
        _ = feed(&plain, .egress, TLSWire.serverHello(tls13: true) + [30, 900, 300, 53].flatMap { TLSWire.encrypted($0) })
        _ = feed(&plain, .ingress, TLSWire.encrypted(53))
        XCTAssertEqual(feed(&plain, .ingress, TLSWire.encrypted(80)), .applicationData)
    }

    func testARequestReadTogetherWithFinishedDecidesNothingAloneButTheNextCallDoes() {
        // A traced server reads both inside SSL_do_handshake, which no probe follows.
        var w = TLSHandshakeWatch()
        _ = feed(&w, .ingress, TLSWire.clientHello)
        _ = feed(&w, .egress, TLSWire.serverHello(tls13: true) + TLSWire.encrypted(900))
        XCTAssertEqual(feed(&w, .ingress, TLSWire.changeCipherSpec + TLSWire.encrypted(53) + TLSWire.encrypted(80)),
                       .watching)
        XCTAssertTrue(w.applicationDataWithHandshake)
        XCTAssertEqual(feed(&w, .ingress, TLSWire.encrypted(80)), .applicationData)

        var tls12 = TLSHandshakeWatch() // Finished is a handshake record there
        _ = feed(&tls12, .ingress, TLSWire.clientHello)
        _ = feed(&tls12, .egress, TLSWire.serverHello(tls13: false))
        XCTAssertEqual(feed(&tls12, .ingress, TLSWire.changeCipherSpec + TLSWire.record(0x16, [1, 2, 3]) + TLSWire.encrypted(80)),
                       .watching)
        XCTAssertTrue(tls12.applicationDataWithHandshake)
    }

    func testTLS12FinishedIsAHandshakeRecordSoTheFirstEncryptedRecordDecides() {
        var w = TLSHandshakeWatch()
        _ = feed(&w, .egress, TLSWire.clientHello)
        XCTAssertEqual(w.clientDirection, .egress)
        _ = feed(&w, .ingress, TLSWire.serverHello(tls13: false) + TLSWire.record(0x16, [11, 0, 0, 0]))
        XCTAssertEqual(w.version, .tls12)
        XCTAssertEqual(feed(&w, .egress, TLSWire.record(0x16, [16, 0, 0, 0]) + TLSWire.changeCipherSpec
                            + TLSWire.record(0x16, [UInt8](repeating: 1, count: 40))), .watching)
        XCTAssertEqual(feed(&w, .egress, TLSWire.encrypted(100)), .applicationData)
    }

    func testATracedHandshakeShowsNoApplicationData() {
        // OpenSSL over a socket: SSL_connect's calls are seen, SSL_write's are not.
        var w = TLSHandshakeWatch()
        _ = feed(&w, .egress, TLSWire.clientHello)
        _ = feed(&w, .ingress, TLSWire.serverHello(tls13: true) + TLSWire.changeCipherSpec)
        _ = feed(&w, .ingress, TLSWire.encrypted(2000))
        XCTAssertEqual(feed(&w, .egress, TLSWire.changeCipherSpec + TLSWire.encrypted(53)), .watching)
        XCTAssertEqual(feed(&w, .egress, TLSWire.record(0x15, [1, 0])), .watching, "close_notify")
    }

    func testRecordsSplitAcrossCallsAndHolesInBodiesAreFollowed() {
        var w = TLSHandshakeWatch()
        let hello = TLSWire.clientHello
        _ = feed(&w, .ingress, Array(hello[0..<3]))
        _ = feed(&w, .ingress, Array(hello[3...]))
        XCTAssertEqual(w.clientDirection, .ingress)
        let server = TLSWire.serverHello(tls13: true)
        let big = TLSWire.encrypted(10_000)
        // The server's flight captured only in part: the hole ends inside a body.
        XCTAssertEqual(feed(&w, .egress, server + Array(big[0..<100]), trailingHole: big.count - 100), .watching)
        XCTAssertEqual(w.version, .tls13)
        _ = feed(&w, .ingress, TLSWire.encrypted(53))
        XCTAssertEqual(feed(&w, .ingress, TLSWire.encrypted(60)), .applicationData)
    }

    func testAHoleOverARecordHeaderIsPickedUpAtTheNextCallStartingWithOne() {
        var w = TLSHandshakeWatch()
        _ = feed(&w, .egress, TLSWire.clientHello)
        _ = feed(&w, .ingress, TLSWire.serverHello(tls13: true))
        _ = feed(&w, .egress, TLSWire.encrypted(53))
        let two = TLSWire.encrypted(3000) + TLSWire.encrypted(3000)
        // The second header fell in the hole: lost, and nothing decided on garbage.
        XCTAssertEqual(feed(&w, .egress, Array(two[0..<5]), trailingHole: two.count - 5), .applicationData)
        var lost = TLSHandshakeWatch()
        _ = feed(&lost, .egress, TLSWire.clientHello)
        _ = feed(&lost, .ingress, TLSWire.serverHello(tls13: true))
        _ = feed(&lost, .egress, Array(TLSWire.clientHello[0..<3]), trailingHole: 4000) // header swallowed
        XCTAssertEqual(feed(&lost, .egress, [0xde, 0xad, 0xbe, 0xef]), .watching)
        _ = feed(&lost, .egress, TLSWire.encrypted(53))
        XCTAssertEqual(feed(&lost, .egress, TLSWire.encrypted(40)), .applicationData)
    }

    func testApplicationDataWithoutAHandshakeIsMidStream() {
        var w = TLSHandshakeWatch()
        XCTAssertEqual(feed(&w, .ingress, TLSWire.encrypted(120)), .midStream)
        XCTAssertEqual(feed(&w, .ingress, TLSWire.encrypted(120)), .midStream)
    }

    func testHandshakeRecordsThatAreNotHellosAreNotWatched() {
        var w = TLSHandshakeWatch()
        _ = feed(&w, .egress, TLSWire.record(0x16, [11, 0, 0, 0]))
        XCTAssertEqual(feed(&w, .ingress, TLSWire.record(0x16, [4, 0, 0, 0])), .notHandshake)
        var alert = TLSHandshakeWatch()
        XCTAssertEqual(feed(&alert, .egress, TLSWire.record(0x15, [2, 40])), .notHandshake)
    }

    func testServerHelloVersionNeedsItsExtensionsWhole() {
        let full = Array(TLSWire.serverHello(tls13: true)[5...])
        XCTAssertEqual(TLSHandshakeWatch.serverHelloVersion(full), .tls13)
        XCTAssertEqual(TLSHandshakeWatch.serverHelloVersion(Array(full[0..<80])), .unknown)
        XCTAssertEqual(TLSHandshakeWatch.serverHelloVersion(Array(TLSWire.serverHello(tls13: false)[5...])), .tls12)
        XCTAssertEqual(TLSHandshakeWatch.serverHelloVersion([2, 0, 0]), .unknown)
    }
}
