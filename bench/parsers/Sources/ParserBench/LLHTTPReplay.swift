import BenchClock
import CNIOLLHTTP

/// Reference for HTTP/1.1: llhttp, as built inside swift-nio's NIOHTTP1,
/// called directly through its C API with the callbacks NIOHTTP1's decoder
/// registers. Each connection gets a request parser (client bytes) and a
/// response parser (server bytes); start lines and header fields are
/// collected, bodies counted, and an exchange is a completed response.
struct LLHTTPReplay: ParserReplay {
    let name = "llhttp"
    let recording: Recording
    private let settings: UnsafeMutablePointer<llhttp_settings_t>

    init(recording: Recording) {
        self.recording = recording
        settings = .allocate(capacity: 1)
        c_nio_llhttp_settings_init(settings)
        settings.pointee.on_message_begin = { parser in collector(parser).pointee.beginMessage(); return 0 }
        settings.pointee.on_url = { parser, at, length in
            collector(parser).pointee.appendStartLine(UnsafeRawBufferPointer(start: at, count: length)); return 0
        }
        settings.pointee.on_status = { parser, at, length in
            collector(parser).pointee.appendStartLine(UnsafeRawBufferPointer(start: at, count: length)); return 0
        }
        settings.pointee.on_header_field = { parser, at, length in
            collector(parser).pointee.appendName(UnsafeRawBufferPointer(start: at, count: length)); return 0
        }
        settings.pointee.on_header_value = { parser, at, length in
            collector(parser).pointee.appendValue(UnsafeRawBufferPointer(start: at, count: length)); return 0
        }
        settings.pointee.on_headers_complete = { parser in collector(parser).pointee.headersComplete(); return 0 }
        settings.pointee.on_body = { parser, _, length in collector(parser).pointee.body(length); return 0 }
        settings.pointee.on_message_complete = { parser in collector(parser).pointee.messageComplete(); return 0 }
    }

    mutating func replay() -> ReplayResult {
        let started = ThreadCPUClock.now()
        let count = recording.connectionCount
        // Per connection: [request parser, response parser].
        let parsers = UnsafeMutablePointer<llhttp_t>.allocate(capacity: 2 * count)
        var collectors = [UnsafeMutablePointer<HeaderCollector>]()
        for index in 0..<2 * count {
            c_nio_llhttp_init(parsers + index, index % 2 == 0 ? HTTP_REQUEST : HTTP_RESPONSE, settings)
            // Response fields are parsed but not kept, as in l7trace (see HeaderCollector).
            let collector = HeaderCollector.allocate(keepsFields: index % 2 == 0)
            collectors.append(collector)
            parsers[index].data = UnsafeMutableRawPointer(collector)
        }
        for record in recording.records {
            let parser = parsers + (2 * record.connection + (record.fromClient ? 0 : 1))
            record.bytes.withUnsafeBytes { bytes in
                _ = c_nio_llhttp_execute_swift(parser, bytes.baseAddress, bytes.count)
            }
        }
        var exchanges = 0
        var fields = 0
        for (index, collector) in collectors.enumerated() {
            if index % 2 == 1 { exchanges += collector.pointee.messages }
            fields += collector.pointee.fieldsSeen
        }
        parsers.deallocate()
        collectors.forEach(HeaderCollector.release)
        return ReplayResult(exchanges: exchanges, fields: fields, cpuNs: ThreadCPUClock.now() - started)
    }
}

private func collector(_ parser: UnsafeMutablePointer<llhttp_t>?) -> UnsafeMutablePointer<HeaderCollector> {
    parser!.pointee.data.assumingMemoryBound(to: HeaderCollector.self)
}
