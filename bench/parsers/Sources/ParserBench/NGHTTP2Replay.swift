import BenchClock
import Glibc
import CNghttp2Session

/// Reference for HTTP/2: libnghttp2's own session processing. Client bytes go
/// to a server session, server bytes to a client session, both through
/// `nghttp2_session_mem_recv`, with callbacks that collect each header block's
/// fields, count DATA bytes and count messages (END_STREAM); an exchange is a
/// completed response.
///
/// A client session accepts a response only on a stream it has opened, so
/// before the clock starts each client session submits and "sends" (into
/// nothing) as many requests as the recording has on that connection, and
/// each server session sends its SETTINGS; that set-up, done by a real peer
/// before the bytes arrive, is not part of the measured time.
struct NGHTTP2Replay: ParserReplay {
    let name = "nghttp2"
    let recording: Recording
    private let callbacks: OpaquePointer
    private let options: OpaquePointer
    /// Requests (HEADERS frames from the client) per connection.
    private let requestsPerConnection: [Int]

    init(recording: Recording) {
        self.recording = recording
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, _, userData in
            collector(userData).pointee.beginMessage(); return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, _, name, nameLength, value, valueLength, _, userData in
            collector(userData).pointee.appendField(name: UnsafeRawBufferPointer(start: name, count: nameLength),
                                            value: UnsafeRawBufferPointer(start: value, count: valueLength))
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, _, _, length, userData in
            collector(userData).pointee.body(length); return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            let header = frame!.pointee.hd
            let target = collector(userData)
            if header.type == UInt8(NGHTTP2_HEADERS.rawValue) { target.pointee.headersComplete() }
            if (header.type == UInt8(NGHTTP2_HEADERS.rawValue) || header.type == UInt8(NGHTTP2_DATA.rawValue))
                && header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
                target.pointee.messageComplete()
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, _, _, _ in 0 }
        self.callbacks = callbacks!
        var options: OpaquePointer?
        nghttp2_option_new(&options)
        // The recorded peer's SETTINGS arrive after our requests were sent.
        nghttp2_option_set_peer_max_concurrent_streams(options, 1 << 20)
        self.options = options!
        requestsPerConnection = Self.countRequests(in: recording)
    }

    mutating func replay() -> ReplayResult {
        let count = recording.connectionCount
        let clients = (0..<count).map { connection in openedClient(requests: requestsPerConnection[connection]) }

        let servers = (0..<count).map { _ in openedServer() }

        let started = ThreadCPUClock.now()
        for record in recording.records {
            let session = record.fromClient ? servers[record.connection].session : clients[record.connection].session
            record.bytes.withUnsafeBufferPointer { bytes in
                _ = nghttp2_session_mem_recv(session, bytes.baseAddress, bytes.count)
            }
        }
        let exchanges = clients.reduce(0) { $0 + $1.collector.pointee.messages }
        let fields = (clients + servers).reduce(0) { $0 + $1.collector.pointee.fieldsSeen }
        let elapsed = ThreadCPUClock.now() - started

        for client in clients + servers {
            nghttp2_session_del(client.session)
            HeaderCollector.release(client.collector)
        }
        return ReplayResult(exchanges: exchanges, fields: fields, cpuNs: elapsed)
    }

    /// A server session that has sent its SETTINGS (as nghttpd does on
    /// accept), so that the client's SETTINGS acknowledgement is expected.
    /// It never answers, so its streams stay half-closed: the stream limit
    /// is lifted so that none of the recorded requests is refused.
    private func openedServer() -> (session: OpaquePointer, collector: UnsafeMutablePointer<HeaderCollector>) {
        let collector = HeaderCollector.allocate()
        var session: OpaquePointer?
        nghttp2_session_server_new2(&session, callbacks, UnsafeMutableRawPointer(collector), options)
        var streams = nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                             value: 1 << 20)
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &streams, 1)
        var out: UnsafePointer<UInt8>?
        while nghttp2_session_mem_send(session, &out) > 0 {}
        return (session!, collector)
    }

    /// A client session that has sent its preface, large receive windows (as
    /// h2load's) and `requests` GET requests, ready for the recorded answers.
    private func openedClient(requests: Int) -> (session: OpaquePointer, collector: UnsafeMutablePointer<HeaderCollector>) {
        let collector = HeaderCollector.allocate()
        var session: OpaquePointer?
        nghttp2_session_client_new2(&session, callbacks, UnsafeMutableRawPointer(collector), options)
        var window = nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                            value: (1 << 30) - 1)
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &window, 1)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, (1 << 30) - 1)
        let fields: [(String, String)] = [(":method", "GET"), (":scheme", "http"), (":authority", "bench"), (":path", "/")]
        var cStrings = fields.map { (strdup($0.0)!, strdup($0.1)!) }
        var nva = cStrings.map { name, value in
            nghttp2_nv(name: UnsafeMutableRawPointer(name).assumingMemoryBound(to: UInt8.self),
                       value: UnsafeMutableRawPointer(value).assumingMemoryBound(to: UInt8.self),
                       namelen: strlen(name), valuelen: strlen(value), flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
        for _ in 0..<requests {
            nghttp2_submit_request(session, nil, &nva, nva.count, nil, nil)
        }
        var out: UnsafePointer<UInt8>?
        while nghttp2_session_mem_send(session, &out) > 0 {}
        for (name, value) in cStrings { free(name); free(value) }
        cStrings.removeAll()
        return (session!, collector)
    }

    /// HEADERS frames the client sent on each connection, found by walking
    /// the frame headers after the 24-byte connection preface.
    private static func countRequests(in recording: Recording) -> [Int] {
        var counts = [Int](repeating: 0, count: recording.connectionCount)
        for connection in counts.indices {
            let bytes = recording.records.filter { $0.connection == connection && $0.fromClient }.flatMap(\.bytes)
            var at = 24
            while at + 9 <= bytes.count {
                let length = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
                if bytes[at + 3] == 1 { counts[connection] += 1 }
                at += 9 + length
            }
        }
        return counts
    }
}

private func collector(_ userData: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<HeaderCollector> {
    userData!.assumingMemoryBound(to: HeaderCollector.self)
}
