import Glibc
import XCTest
@testable import L7Capture

final class ProcFSTests: XCTestCase {
    func testContainerIDIsTheLast64HexRunOfTheCgroupPath() {
        let id = String(repeating: "ab12", count: 16)
        XCTAssertEqual(ProcFS.containerID(inCgroup: "0::/system.slice/docker-\(id).scope\n"), id)
        XCTAssertEqual(ProcFS.containerID(inCgroup: "12:cpu:/kubepods/burstable/pod1234/\(id)\n"), id)
        XCTAssertEqual(ProcFS.containerID(inCgroup: "0::/kubepods.slice/cri-containerd-\(id).scope"), id)
        XCTAssertNil(ProcFS.containerID(inCgroup: "0::/user.slice/user-0.slice/session-1.scope\n"))
        XCTAssertNil(ProcFS.containerID(inCgroup: "0::/x/\(id)f\n"), "65 hex digits are not an id")
    }

    func testListeningPortsAreTheRowsInState0A() {
        let table = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
           1: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
           2: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 0 0 0 0 0 3
        """
        XCTAssertEqual(ProcFS.listeningPorts(inTable: Array(table.utf8)), [8080, 443])
        XCTAssertEqual(ProcFS.listeningPorts(inTable: Array(table.utf8), inodes: [1]), [8080], "a process's own sockets")
    }

    func testAProcessListensOnItsOwnSocketsOnly() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 1) == 0
                && getsockname(fd, $0, &length) == 0 }
        }
        XCTAssertTrue(bound)
        let port = UInt16(bigEndian: address.sin_port)
        XCTAssertEqual(ProcFS.listeningPorts(ofProcess: UInt32(getpid()))?.contains(port), true)
        XCTAssertNil(ProcFS.listeningPorts(ofProcess: 0x7FFF_FFF0), "no such process")
    }

    func testReadsThisProcess() {
        let me = UInt32(getpid())
        XCTAssertEqual(ProcFS.parentPid(me), UInt32(getppid()))
        XCTAssertNotNil(ProcFS.executablePath(me))
        XCTAssertEqual(ProcFS.executableName(me).map { $0.contains("/") }, false)
        XCTAssertFalse(ProcFS.commandLine(me).isEmpty)
        let environ = ProcFS.environ(me) ?? []
        XCTAssertTrue(environ.split(separator: 0).contains { $0.starts(with: Array("PATH=".utf8)) })
        XCTAssertTrue(ProcFS.allPids().contains(me))
        XCTAssertFalse(ProcFS.hostName().isEmpty)
    }

    func testAProcessThatIsGoneGivesNothing() {
        let gone = UInt32(Int32.max - 1)
        XCTAssertNil(ProcFS.executablePath(gone))
        XCTAssertNil(ProcFS.environ(gone))
        XCTAssertNil(ProcFS.parentPid(gone))
        XCTAssertEqual(ProcFS.commandLine(gone), [])
        XCTAssertNil(ProcFS.containerID(gone))
    }
}
