import Foundation
import Glibc
import Synchronization

/// Serves `GET /metrics` (Prometheus text format) from its own thread: a
/// small blocking HTTP/1.0 responder, one scrape at a time, each answer
/// closing its connection. A scrape is rare and tiny, so nothing fancier is
/// worth its dependencies; the tracer's own traffic is never traced (the
/// kernel ignores the tracer's process).
public final class MetricsServer: Sendable {
    public let address: String
    /// The port bound (the one asked for, or the kernel's pick for 0).
    public let port: UInt16
    private let listener: Int32
    private let render: @Sendable () -> [UInt8]
    private let isStopped = Mutex(false)
    /// Signalled when the serving thread has returned and will not touch the listener again.
    private let served = DispatchSemaphore(value: 0)

    /// Binds `address:port` now (so a busy port fails at start) and serves
    /// until `stop()`; `render` produces the exposition text per scrape.
    public init(address: String, port: UInt16, render: @escaping @Sendable () -> [UInt8]) throws {
        self.address = address
        self.render = render
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address, String(port), &hints, &found) == 0, let info = found else {
            throw ExportConfigurationError("--metrics-address \(address) is not an IP address (e.g. 127.0.0.1 or ::1)")
        }
        defer { freeaddrinfo(found) }
        let socket = Glibc.socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw ExportConfigurationError("cannot open the metrics socket: \(Self.lastError())") }
        var one: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(socket, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(socket, 16) == 0 else {
            let reason = Self.lastError()
            close(socket)
            throw ExportConfigurationError("cannot serve metrics on \(address) port \(port): \(reason); choose another --metrics-port")
        }
        listener = socket
        self.port = Self.boundPort(socket) ?? port
        let thread = Thread { [self] in serve() }
        thread.name = "l7trace-metrics"
        thread.start()
    }

    /// Stops serving and releases the port. The listener is closed only
    /// after the serving thread has returned: closed earlier, its number
    /// could be reused by another socket (another server's listener) before
    /// the thread's next accept(), which would then serve that socket.
    public func stop() {
        let first = isStopped.withLock { stopped -> Bool in
            guard !stopped else { return false }
            stopped = true
            return true
        }
        guard first else { return }
        // Makes the blocked (or the next) accept() fail, so the thread returns.
        shutdown(listener, Int32(SHUT_RDWR))
        // A scrape in progress may hold the thread for its 2 s timeouts.
        if served.wait(timeout: .now() + 6) == .success {
            close(listener)
        }
    }

    private func serve() {
        defer { served.signal() }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if (errno == EINTR || errno == ECONNABORTED) && !isStopped.withLock({ $0 }) { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            answer(client)
            close(client)
        }
    }

    private func answer(_ client: Int32) {
        // A scraper that connects and says nothing must not hold the thread forever.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8](repeating: 0, count: 4096)
        var filled = 0
        while filled < request.count {
            let count = request.withUnsafeMutableBytes { recv(client, $0.baseAddress! + filled, $0.count - filled, 0) }
            if count <= 0 { break }
            filled += count
            if request[..<filled].contains(UInt8(ascii: "\n")) { break }
        }
        let line = String(decoding: request[..<filled].prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") },
                          as: UTF8.self)
        let parts = line.split(separator: " ")
        let path = parts.count >= 2 ? parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? "" : ""
        if parts.first == "GET" && (path == "/metrics" || path == "/") {
            respond(client, status: "200 OK", type: "text/plain; version=0.0.4; charset=utf-8", body: render())
        } else {
            respond(client, status: "404 Not Found", type: "text/plain", body: Array("only GET /metrics is served here\n".utf8))
        }
    }

    private func respond(_ client: Int32, status: String, type: String, body: [UInt8]) {
        let head = "HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        bytes.append(contentsOf: body)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    private static func boundPort(_ socket: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) == 0 }
        }
        guard ok else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
        case AF_INET6:
            return withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
        default:
            return nil
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
