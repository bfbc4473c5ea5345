import Glibc
import L7Events
import XCTest
@testable import L7Capture

final class CaptureDescriptionTests: XCTestCase {
    func testDataLinesEscapeAndTruncateTheBytes() {
        let payload = Array("GET /\"q\" HTTP/1.1\r\n".utf8) + [0x00, 0xff] + Array(repeating: UInt8(ascii: "x"), count: 100)
        let line = payload.withUnsafeBytes { bytes in
            Capture.describe(.data(DataChunk(key: ConnectionKey(tgid: 1, connectionID: 2), tid: 3, fd: 4,
                                             direction: .egress, source: .syscall, enterNs: 5, exitNs: 6,
                                             returnedLength: 500, bytes: bytes)), previewBytes: 24)
        }
        XCTAssertEqual(line, #"data tgid=1 conn=2 fd=4 tid=3 dir=egress src=syscall len=500 captured=121 enter=5 exit=6 bytes="GET /\"q\" HTTP/1.1\r\n\x00\xffxxx""#)
    }

    func testOpenLinesNameTheRoleAndAddresses() {
        let line = Capture.describe(.open(ConnectionOpened(
            key: ConnectionKey(tgid: 1, connectionID: 2), tid: 1, fd: 7, role: .server,
            local: SocketAddress(ipv4: 127, 0, 0, 1, port: 80), remote: nil, timestampNs: 9)))
        XCTAssertEqual(line, "open tgid=1 conn=2 fd=7 tid=1 role=server local=127.0.0.1:80 remote=- t=9")
    }

    func testErrorsAreOneLine() {
        let errors: [CaptureError] = [
            .notPrivileged, .noBTF, .tracefsUnavailable(errno: EACCES),
            .programRejected(program: "exit_read", errno: EACCES, detail: "libbpf: prog 'exit_read': failed"),
            .attachFailed(program: "enter_read", errno: ENOENT), .other("x"),
        ]
        for error in errors {
            XCTAssertFalse(error.description.contains("\n"), error.description)
        }
        XCTAssertTrue(CaptureError.programRejected(program: "exit_read", errno: EACCES, detail: "")
            .description.contains("'exit_read'"))
        XCTAssertTrue(CaptureError.noBTF.description.contains("BTF"))
    }
}
