import BenchClock
import L7Events
import L7Protocols

/// Our side: the recording as the capture would deliver it — `.open` per
/// connection (server role, seen from the start), then each recv as a
/// `.data` chunk (client bytes are the server's ingress), then `.close` —
/// into `ConnectionTracker.handle(_:emit:)`, the entry the tracer's
/// pipeline uses, so detection, parsing and stitching are all counted.
struct TrackerReplay: ParserReplay {
    let name = "l7trace"
    let recording: Recording

    init(recording: Recording) { self.recording = recording }

    mutating func replay() -> ReplayResult {
        let started = ThreadCPUClock.now()
        let tracker = ConnectionTracker()
        var exchanges = 0
        var fields = 0
        let emit: (Exchange) -> Void = { exchange in
            exchanges += 1
            fields += exchange.request.headers.count + (exchange.response?.headers.count ?? 0)
        }
        var opened = [Bool](repeating: false, count: recording.connectionCount)
        var clock: UInt64 = 1_000_000
        for record in recording.records {
            clock += 1_000
            let key = ConnectionKey(tgid: 4242, connectionID: UInt64(record.connection + 1))
            let fd = Int32(10 + record.connection)
            if !opened[record.connection] {
                opened[record.connection] = true
                tracker.handle(.open(ConnectionOpened(
                    key: key, tid: 4242, fd: fd, role: .server,
                    local: SocketAddress(ipv4: 127, 0, 0, 1, port: 8080),
                    remote: SocketAddress(ipv4: 127, 0, 0, 1, port: UInt16(40_000 + record.connection)),
                    timestampNs: clock)), emit: emit)
            }
            record.bytes.withUnsafeBytes { bytes in
                tracker.handle(.data(DataChunk(
                    key: key, tid: 4242, fd: fd, direction: record.fromClient ? .ingress : .egress,
                    source: .syscall, enterNs: clock, exitNs: clock + 500,
                    returnedLength: bytes.count, bytes: bytes)), emit: emit)
            }
        }
        for connection in opened.indices where opened[connection] {
            clock += 1_000
            tracker.handle(.close(ConnectionClosed(key: ConnectionKey(tgid: 4242, connectionID: UInt64(connection + 1)),
                                                   fd: Int32(10 + connection), timestampNs: clock)), emit: emit)
        }
        return ReplayResult(exchanges: exchanges, fields: fields, cpuNs: ThreadCPUClock.now() - started)
    }
}
