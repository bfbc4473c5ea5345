// The HTTP/1 and HTTP/2 paths of ConnectionTracker, fed scripts (Script.swift)
// the way the capture feeds it: increasing timestamps, bytes lent per call.
import Glibc
import L7Events
@testable import L7Protocols

struct TrackerTarget {
    /// Small limits, so that eviction, pipelining and head limits are reached by short inputs.
    static let limits = TrackerLimits(maxConnections: 3, maxHeadBytes: 4096, maxLineBytes: 1024,
                                      maxPendingRequests: 8, detectionScanBytes: 4096)
    static let pid: UInt32 = 4242

    /// Bytes the server connection 0 receives before the script (the h2 client preface).
    let prologue: [UInt8]

    static let http1 = TrackerTarget(prologue: [])
    static let http2 = TrackerTarget(prologue: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))

    func run(_ input: Input) {
        // Copied before the budget's baseline: the script's own copy of the
        // input is not the tracker's memory.
        let bytes = Array(input.bytes)
        MemoryBudget.check("tracker", inputBytes: input.count) {
            let feeder = TrackerFeeder(limits: Self.limits)
            feeder.open(0, role: .server)
            if !prologue.isEmpty { feeder.call(0, .ingress, prologue[...]) }
            var script = ScriptReader(bytes)
            while let step = script.next() {
                feeder.perform(step)
                feeder.checkBounds()
            }
            MemoryBudget.checkRetained("tracker")
            feeder.finish()
        }
    }
}

/// One tracker and its clock; checks what must hold after every step.
final class TrackerFeeder {
    let tracker: ConnectionTracker
    private var now: UInt64 = 1_000
    private var emitted = 0

    init(limits: TrackerLimits) {
        tracker = ConnectionTracker(limits: limits)
        tracker.unreadableTLSGraceNs = 1_000 // ten steps
    }

    private func key(_ connection: UInt64) -> ConnectionKey {
        ConnectionKey(tgid: TrackerTarget.pid, connectionID: connection)
    }

    /// L7FUZZ_VERBOSE=1 prints each exchange (to see what a seed or a crash input does).
    private static let verbose = getenv("L7FUZZ_VERBOSE") != nil

    private func emit(_ exchange: Exchange) {
        emitted += 1
        if Self.verbose {
            fputs("exchange: \(exchange.request.method) \(exchange.request.target) -> \(exchange.response.map { "\($0.status)" } ?? "none")\n", stderr)
        }
    }

    func handle(_ event: CaptureEvent) { tracker.handle(event, emit: emit) }

    func open(_ connection: UInt64, role: ConnectionRole) {
        now += 100
        handle(.open(ConnectionOpened(key: key(connection), tid: TrackerTarget.pid, fd: 7, role: role,
                                      local: SocketAddress(ipv4: 127, 0, 0, 1, port: 8080),
                                      remote: SocketAddress(ipv4: 127, 0, 0, 1, port: 40000 + UInt16(connection)),
                                      timestampNs: now)))
    }

    func call(_ connection: UInt64, _ direction: Direction, _ bytes: ArraySlice<UInt8>, hole: Int = 0,
              tls: Bool = false) {
        now += 100
        bytes.withUnsafeBytes { buffer in
            handle(.data(DataChunk(key: key(connection), tid: TrackerTarget.pid, fd: 7, direction: direction,
                                   source: tls ? .ssl : .syscall, enterNs: now, exitNs: now + 10,
                                   returnedLength: bytes.count + hole, bytes: buffer)))
        }
    }

    /// One call captured as two chunks, with `gap` bytes not captured between them.
    func split(_ connection: UInt64, _ direction: Direction, _ bytes: ArraySlice<UInt8>, cut: Int, gap: Int) {
        now += 100
        let first = bytes.prefix(cut), second = bytes.dropFirst(cut)
        let total = bytes.count + gap
        for (offset, piece, last) in [(0, first, false), (cut + gap, second, true)] {
            piece.withUnsafeBytes { buffer in
                handle(.data(DataChunk(key: key(connection), tid: TrackerTarget.pid, fd: 7, direction: direction,
                                       source: .syscall, enterNs: now, exitNs: now + 10, returnedLength: total,
                                       offset: offset, isLastChunk: last, bytes: buffer)))
            }
        }
    }

    func perform(_ step: ScriptReader.Step) {
        switch step {
        case let .data(connection, direction, bytes, hole, tls): call(connection, direction, bytes, hole: hole, tls: tls)
        case let .split(connection, direction, bytes, cut, gap): split(connection, direction, bytes, cut: cut, gap: gap)
        case let .open(connection, role): open(connection, role: role)
        case let .close(connection):
            now += 100
            handle(.close(ConnectionClosed(key: key(connection), fd: 7, timestampNs: now)))
        case .exit:
            now += 100
            handle(.processExited(ProcessExited(tgid: TrackerTarget.pid, timestampNs: now)))
        }
        tracker.judgeUnreadableTLS(nowNs: now)
    }

    /// What the limits promise after any call.
    func checkBounds() {
        let limits = tracker.limits
        if tracker.trackedConnections > limits.maxConnections {
            violated("\(tracker.trackedConnections) connections tracked, limit \(limits.maxConnections)")
        }
        if tracker.stats.tlsConnectionsUnreadable > tracker.stats.connectionsTracked {
            violated("\(tracker.stats.tlsConnectionsUnreadable) unreadable TLS connections of \(tracker.stats.connectionsTracked) tracked")
        }
        if tracker.maxBufferedBytesPerDirection > limits.maxHeadBytes {
            violated("\(tracker.maxBufferedBytesPerDirection) bytes buffered in one direction, limit \(limits.maxHeadBytes)")
        }
    }

    /// Shutdown: every connection closes out, and every exchange counted was emitted.
    func finish() {
        tracker.flushAll(emit: emit)
        if Self.verbose { fputs("\(tracker.stats)\n", stderr) }
        if tracker.trackedConnections != 0 { violated("\(tracker.trackedConnections) connections left after flushAll") }
        if tracker.stats.exchanges != emitted {
            violated("stats count \(tracker.stats.exchanges) exchanges, \(emitted) were emitted")
        }
    }
}
