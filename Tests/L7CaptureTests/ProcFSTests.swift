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
