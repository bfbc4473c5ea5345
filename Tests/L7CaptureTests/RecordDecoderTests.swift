import CProbes
import L7Events
import XCTest
@testable import L7Capture

/// Records are laid out here exactly as the BPF program writes them.
final class RecordDecoderTests: XCTestCase {
    private func record<T>(_ value: T, payload: [UInt8] = []) -> [UInt8] {
        var copy = value
        return withUnsafeBytes(of: &copy) { Array($0) } + payload
    }

    private func header(_ kind: l7_event_kind, tgid: UInt32 = 41, tid: UInt32 = 42, ns: UInt64 = 1_000) -> l7_event_header {
        var h = l7_event_header()
        h.kind = UInt8(kind.rawValue)
        h.tgid = tgid
        h.tid = tid
        h.timestamp_ns = ns
        return h
    }

    func testDataRecordBorrowsItsPayload() {
        var e = l7_data_event()
        e.header = header(L7_EVENT_DATA, ns: 2_000)
        e.conn_id = 7
        e.enter_ns = 1_500
        e.returned = 10_000
        e.fd = 5
        e.captured = 14
        e.direction = UInt8(L7_DIR_INGRESS.rawValue)
        let bytes = record(e, payload: Array("GET / HTTP/1.1".utf8))
        bytes.withUnsafeBytes { raw in
            guard case .data(let chunk)? = RecordDecoder.decode(raw) else { return XCTFail("not data") }
            XCTAssertEqual(chunk.key, ConnectionKey(tgid: 41, connectionID: 7))
            XCTAssertEqual(chunk.tid, 42)
            XCTAssertEqual(chunk.fd, 5)
            XCTAssertEqual(chunk.direction, .ingress)
            XCTAssertEqual(chunk.source, .syscall)
            XCTAssertEqual(chunk.enterNs, 1_500)
            XCTAssertEqual(chunk.exitNs, 2_000)
            XCTAssertEqual(chunk.returnedLength, 10_000)
            XCTAssertEqual(chunk.offset, 0)
            XCTAssertTrue(chunk.isLastChunk)
            XCTAssertEqual(String(decoding: chunk.bytes, as: UTF8.self), "GET / HTTP/1.1")
            XCTAssertEqual(chunk.bytes.baseAddress, raw.baseAddress! + MemoryLayout<l7_data_event>.size)
        }
    }

    func testChunkOfALargeCallCarriesItsOffsetAndWhetherMoreFollow() {
        var e = l7_data_event()
        e.header = header(L7_EVENT_DATA)
        e.returned = 40_000
        e.captured = 4
        e.offset = 16_384
        e.chunk_flags = UInt8(L7_CHUNK_MORE.rawValue)
        record(e, payload: [0, 0, 4, 1]).withUnsafeBytes { raw in
            guard case .data(let chunk)? = RecordDecoder.decode(raw) else { return XCTFail("not data") }
            XCTAssertEqual(chunk.offset, 16_384)
            XCTAssertFalse(chunk.isLastChunk)
        }
        e.offset = 32_768
        e.chunk_flags = 0
        record(e, payload: [0, 0, 4, 1]).withUnsafeBytes { raw in
            guard case .data(let chunk)? = RecordDecoder.decode(raw) else { return XCTFail("not data") }
            XCTAssertEqual(chunk.offset, 32_768)
            XCTAssertTrue(chunk.isLastChunk)
        }
    }

    func testDataRecordNeverReadsPastItsEnd() {
        var e = l7_data_event()
        e.header = header(L7_EVENT_DATA)
        e.returned = 100
        e.captured = 100 // claims more than the record holds
        let bytes = record(e, payload: [1, 2, 3])
        bytes.withUnsafeBytes { raw in
            guard case .data(let chunk)? = RecordDecoder.decode(raw) else { return XCTFail("not data") }
            XCTAssertEqual(chunk.bytes.count, 3)
        }
    }

    func testOpenRecordCarriesRoleAndAddresses() {
        var e = l7_open_event()
        e.header = header(L7_EVENT_OPEN)
        e.conn_id = 9
        e.fd = 3
        e.role = UInt8(L7_ROLE_CLIENT.rawValue)
        e.local.family = 4
        e.local.port = 40_000
        withUnsafeMutableBytes(of: &e.local.addr) { $0.copyBytes(from: [127, 0, 0, 1]) }
        e.remote.family = 6
        e.remote.port = 8080
        withUnsafeMutableBytes(of: &e.remote.addr) { $0.copyBytes(from: [UInt8](repeating: 0, count: 15) + [1]) }
        record(e).withUnsafeBytes { raw in
            guard case .open(let open)? = RecordDecoder.decode(raw) else { return XCTFail("not open") }
            XCTAssertEqual(open.key, ConnectionKey(tgid: 41, connectionID: 9))
            XCTAssertEqual(open.role, .client)
            XCTAssertEqual(open.fd, 3)
            XCTAssertEqual(open.local?.description, "127.0.0.1:40000")
            XCTAssertEqual(open.remote?.description, "[::1]:8080")
            XCTAssertEqual(open.timestampNs, 1_000)
        }
    }

    func testOpenRecordWithUnknownAddressFamilyHasNoAddress() {
        var e = l7_open_event()
        e.header = header(L7_EVENT_OPEN)
        record(e).withUnsafeBytes { raw in
            guard case .open(let open)? = RecordDecoder.decode(raw) else { return XCTFail("not open") }
            XCTAssertNil(open.local)
            XCTAssertEqual(open.role, .unknown)
        }
    }

    func testCloseExecAndExitRecords() {
        var close = l7_close_event()
        close.header = header(L7_EVENT_CLOSE)
        close.conn_id = 4
        close.fd = 8
        record(close).withUnsafeBytes { raw in
            guard case .close(let c)? = RecordDecoder.decode(raw) else { return XCTFail("not close") }
            XCTAssertEqual(c.key.connectionID, 4)
            XCTAssertEqual(c.fd, 8)
        }
        var exec = l7_exec_event()
        exec.header = header(L7_EVENT_EXEC, tgid: 100)
        exec.ppid = 1
        record(exec).withUnsafeBytes { raw in
            guard case .processStarted(let p)? = RecordDecoder.decode(raw) else { return XCTFail("not exec") }
            XCTAssertEqual(p.tgid, 100)
            XCTAssertEqual(p.parentTgid, 1)
        }
        var sharedClose = l7_close_event()
        sharedClose.header = header(L7_EVENT_CLOSE, tgid: 100)
        sharedClose.conn_id = 4
        sharedClose.fd = 3
        sharedClose.shared = 1
        record(sharedClose).withUnsafeBytes { raw in
            guard case .close(let c)? = RecordDecoder.decode(raw) else { return XCTFail("not close") }
            XCTAssertTrue(c.shared, "the socket lives on in another fd")
        }
        var fork = l7_fork_event()
        fork.header = header(L7_EVENT_FORK, tgid: 101)
        fork.parent_tgid = 100
        record(fork).withUnsafeBytes { raw in
            guard case .processForked(let p)? = RecordDecoder.decode(raw) else { return XCTFail("not fork") }
            XCTAssertEqual(p.tgid, 101)
            XCTAssertEqual(p.parentTgid, 100)
        }
        var exit = l7_exit_event()
        exit.header = header(L7_EVENT_EXIT, tgid: 100)
        record(exit).withUnsafeBytes { raw in
            guard case .processExited(let p)? = RecordDecoder.decode(raw) else { return XCTFail("not exit") }
            XCTAssertEqual(p.tgid, 100)
        }
    }

    func testShortOrUnknownRecordsAreSkipped() {
        var e = l7_open_event()
        e.header = header(L7_EVENT_OPEN)
        let truncated = Array(record(e).prefix(30))
        truncated.withUnsafeBytes { XCTAssertNil(RecordDecoder.decode($0)) }
        var unknown = l7_exit_event()
        unknown.header = header(l7_event_kind(rawValue: 99))
        record(unknown).withUnsafeBytes { XCTAssertNil(RecordDecoder.decode($0)) }
        [UInt8]().withUnsafeBytes { XCTAssertNil(RecordDecoder.decode($0)) }
    }
}
