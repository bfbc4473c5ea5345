import CProbes
import L7Events

/// Turns one ring-buffer record (layouts in l7trace_abi.h) into a
/// `CaptureEvent`. Data payloads are not copied: the chunk's bytes point into
/// the record. Only open events allocate (their addresses).
enum RecordDecoder {
    static func decode(_ record: UnsafeRawBufferPointer) -> CaptureEvent? {
        guard let base = record.baseAddress,
              record.count >= MemoryLayout<l7_event_header>.size else { return nil }
        let header = base.loadUnaligned(as: l7_event_header.self)
        switch Int(header.kind) {
        case Int(L7_EVENT_DATA.rawValue):
            return decodeData(record, base)
        case Int(L7_EVENT_OPEN.rawValue):
            guard record.count >= MemoryLayout<l7_open_event>.size else { return nil }
            let e = base.loadUnaligned(as: l7_open_event.self)
            return .open(ConnectionOpened(
                key: ConnectionKey(tgid: header.tgid, connectionID: e.conn_id),
                tid: header.tid, fd: e.fd, role: ConnectionRole(rawValue: e.role) ?? .unknown,
                local: address(e.local), remote: address(e.remote), timestampNs: header.timestamp_ns))
        case Int(L7_EVENT_CLOSE.rawValue):
            guard record.count >= MemoryLayout<l7_close_event>.size else { return nil }
            let e = base.loadUnaligned(as: l7_close_event.self)
            return .close(ConnectionClosed(key: ConnectionKey(tgid: header.tgid, connectionID: e.conn_id),
                                           fd: e.fd, timestampNs: header.timestamp_ns, shared: e.shared != 0))
        case Int(L7_EVENT_EXEC.rawValue):
            guard record.count >= MemoryLayout<l7_exec_event>.size else { return nil }
            let e = base.loadUnaligned(as: l7_exec_event.self)
            return .processStarted(ProcessStarted(tgid: header.tgid, parentTgid: e.ppid,
                                                  timestampNs: header.timestamp_ns))
        case Int(L7_EVENT_FORK.rawValue):
            guard record.count >= MemoryLayout<l7_fork_event>.size else { return nil }
            let e = base.loadUnaligned(as: l7_fork_event.self)
            return .processForked(ProcessForked(tgid: header.tgid, parentTgid: e.parent_tgid,
                                                timestampNs: header.timestamp_ns))
        case Int(L7_EVENT_EXIT.rawValue):
            return .processExited(ProcessExited(tgid: header.tgid, timestampNs: header.timestamp_ns))
        default:
            return nil
        }
    }

    private static func decodeData(_ record: UnsafeRawBufferPointer, _ base: UnsafeRawPointer) -> CaptureEvent? {
        let headerSize = MemoryLayout<l7_data_event>.size
        guard record.count >= headerSize else { return nil }
        let e = base.loadUnaligned(as: l7_data_event.self)
        // No call moves more than Linux's MAX_RW_COUNT (just under 2 GiB): a
        // larger count is no real record, and would trap as an Int below.
        guard e.returned <= UInt64(Int32.max) else { return nil }
        let captured = min(Int(e.captured), record.count - headerSize)
        return .data(DataChunk(
            key: ConnectionKey(tgid: e.header.tgid, connectionID: e.conn_id),
            tid: e.header.tid, fd: e.fd,
            direction: Direction(rawValue: e.direction) ?? .ingress,
            source: DataSource(rawValue: e.source) ?? .syscall,
            enterNs: e.enter_ns, exitNs: e.header.timestamp_ns,
            returnedLength: Int(e.returned), offset: Int(e.offset),
            isLastChunk: e.chunk_flags & UInt8(L7_CHUNK_MORE.rawValue) == 0,
            bytes: UnsafeRawBufferPointer(start: base + headerSize, count: captured)))
    }

    private static func address(_ a: l7_address) -> SocketAddress? {
        var raw = a.addr
        return withUnsafeBytes(of: &raw) { bytes in
            switch a.family {
            case 4: return SocketAddress(family: .ipv4, bytes: Array(bytes.prefix(4)), port: a.port)
            case 6: return SocketAddress(family: .ipv6, bytes: Array(bytes.prefix(16)), port: a.port)
            default: return nil
            }
        }
    }
}
