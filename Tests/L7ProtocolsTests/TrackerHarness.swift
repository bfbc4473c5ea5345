import L7Events
@testable import L7Protocols

/// Drives a `ConnectionTracker` the way the capture would: events with
/// increasing timestamps, bytes lent only for the duration of the call.
final class TrackerHarness {
    let tracker: ConnectionTracker
    private(set) var exchanges: [Exchange] = []
    private(set) var ignored: [(ConnectionKey, Int32)] = []
    private(set) var ciphertextIgnored: [ConnectionKey] = []
    private(set) var toldHTTP2: [(ConnectionKey, Int32)] = []
    private(set) var unreadableTLS: [ConnectionInfo] = []
    /// Client requests whose heads were parsed, in order.
    private(set) var started: [RequestStarted] = []
    /// Monotonic clock; every call takes 10 ns, every event starts 100 ns after the last.
    private(set) var now: UInt64 = 1_000

    init(limits: TrackerLimits = .init()) {
        tracker = ConnectionTracker(limits: limits)
        tracker.onIgnore = { [unowned self] key, fd in self.ignored.append((key, fd)) }
        tracker.onIgnoreCiphertext = { [unowned self] key, _ in self.ciphertextIgnored.append(key) }
        tracker.onHTTP2 = { [unowned self] key, fd in self.toldHTTP2.append((key, fd)) }
        tracker.onUnreadableTLS = { [unowned self] info in self.unreadableTLS.append(info) }
        tracker.onRequestStarted = { [unowned self] request in self.started.append(request) }
    }

    static func key(_ id: UInt64, pid: UInt32 = 4242) -> ConnectionKey { ConnectionKey(tgid: pid, connectionID: id) }

    func open(_ key: ConnectionKey, role: ConnectionRole, fd: Int32 = 7,
              local: SocketAddress? = SocketAddress(ipv4: 127, 0, 0, 1, port: 18080),
              remote: SocketAddress? = SocketAddress(ipv4: 127, 0, 0, 1, port: 45678)) {
        now += 100
        tracker.handle(.open(ConnectionOpened(key: key, tid: key.tgid, fd: fd, role: role, local: local,
                                              remote: remote, timestampNs: now))) { exchanges.append($0) }
    }

    /// One read or write call that moved `bytes` (plus `hole` uncaptured bytes after them).
    @discardableResult
    func call(_ key: ConnectionKey, _ direction: Direction, _ bytes: [UInt8], hole: Int = 0,
              source: DataSource = .syscall, fd: Int32 = 7, tid: UInt32? = nil) -> (enter: UInt64, exit: UInt64) {
        now += 100
        let enter = now, exit = now + 10
        bytes.withUnsafeBytes { buffer in
            let chunk = DataChunk(key: key, tid: tid ?? key.tgid, fd: fd, direction: direction, source: source,
                                  enterNs: enter, exitNs: exit, returnedLength: bytes.count + hole, bytes: buffer)
            tracker.handle(.data(chunk)) { exchanges.append($0) }
        }
        return (enter, exit)
    }

    func call(_ key: ConnectionKey, _ direction: Direction, _ text: String, hole: Int = 0,
              source: DataSource = .syscall, fd: Int32 = 7, tid: UInt32? = nil) {
        call(key, direction, Array(text.utf8), hole: hole, source: source, fd: fd, tid: tid)
    }

    /// One call whose capture was split into several chunks (offsets given).
    func splitCall(_ key: ConnectionKey, _ direction: Direction, chunks: [(offset: Int, bytes: [UInt8])],
                   returnedLength: Int) {
        now += 100
        for (n, piece) in chunks.enumerated() {
            piece.bytes.withUnsafeBytes { buffer in
                let chunk = DataChunk(key: key, tid: key.tgid, fd: 7, direction: direction, source: .syscall,
                                      enterNs: now, exitNs: now + 10, returnedLength: returnedLength,
                                      offset: piece.offset, isLastChunk: n == chunks.count - 1, bytes: buffer)
                tracker.handle(.data(chunk)) { exchanges.append($0) }
            }
        }
    }

    /// `shared`: the kernel saw other references to the socket (another fd, a forked child's).
    func close(_ key: ConnectionKey, fd: Int32 = 7, shared: Bool = false) {
        now += 100
        tracker.handle(.close(ConnectionClosed(key: key, fd: fd, timestampNs: now, shared: shared))) { exchanges.append($0) }
    }

    func exit(pid: UInt32) {
        now += 100
        tracker.handle(.processExited(ProcessExited(tgid: pid, timestampNs: now))) { exchanges.append($0) }
    }

    func flush() { tracker.flushAll { exchanges.append($0) } }

    /// A server's TLS 1.3 handshake in the syscall bytes, up to the client's
    /// Finished (and, for a traced server, its first request read with it).
    func tls13ServerHandshake(_ key: ConnectionKey) {
        call(key, .ingress, TLSWire.clientHello)
        call(key, .egress, TLSWire.serverHello(tls13: true) + TLSWire.encrypted(2000))
        call(key, .ingress, TLSWire.changeCipherSpec + TLSWire.encrypted(53) + TLSWire.encrypted(107))
    }

    /// The tracer's poll: judges TLS suspects `afterNs` from now.
    func judgeTLS(afterNs: UInt64) { tracker.judgeUnreadableTLS(nowNs: now + afterNs) }

    var stats: ProtocolStats { tracker.stats }
}

/// The parts of an exchange a user sees, for compact comparisons.
struct ExchangeSummary: Equatable, CustomStringConvertible {
    var method: String
    var target: String
    var status: Int?
    /// nil: the size is not known (a hole fell in the body's chunked framing).
    var requestBody: Int?
    var responseBody: Int?
    var failure: ExchangeFailure?

    init(_ method: String, _ target: String, _ status: Int?, requestBody: Int? = 0, responseBody: Int? = 0,
         failure: ExchangeFailure? = nil) {
        self.method = method; self.target = target; self.status = status
        self.requestBody = requestBody; self.responseBody = responseBody; self.failure = failure
    }

    init(_ e: Exchange) {
        self.init(e.request.method, e.request.target, e.response?.status,
                  requestBody: e.undecoded.contains(.requestBodySize) ? nil : e.requestBodySize,
                  responseBody: e.undecoded.contains(.responseBodySize) ? nil : e.responseBodySize, failure: e.failure)
    }

    var description: String {
        "\(method) \(target) -> \(status.map(String.init) ?? "nil") req=\(requestBody.map(String.init) ?? "?") "
            + "resp=\(responseBody.map(String.init) ?? "?")"
            + (failure.map { " \($0)" } ?? "")
    }
}

extension Array where Element == Exchange {
    var summaries: [ExchangeSummary] { map(ExchangeSummary.init) }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

/// A small deterministic generator (SplitMix64) so fuzz runs repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
