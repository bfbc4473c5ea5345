import CProbes
import L7Events
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The kernel side, loaded and attached: socket syscall and process events
/// arrive through `poll`, and filters are steered with the verdict calls.
///
/// Threading: `poll` is meant for one dedicated thread; the verdict calls
/// and `counters` may come from any thread (each is one map syscall).
/// Call `close` only once the poll loop has stopped.
public final class Capture {
    private var probes: OpaquePointer?
    public let options: CaptureOptions
    /// Set by `traceTLS`; fed from `poll`.
    var tlsDiscovery: TLSDiscovery?
    /// What this kernel lacks and what stands in for it (empty on 5.17+).
    public private(set) var kernelFallbacks: [KernelFallback] = []

    /// Checks privileges, BTF and tracefs, then loads and attaches every
    /// probe. When it returns, events are flowing.
    public init(options: CaptureOptions) throws {
        self.options = options
        try Preflight.run()

        var config = l7_probes_config()
        config.self_tgid = UInt32(bitPattern: getpid())
        config.process_mode = options.processMode.abiValue
        config.capture_bytes = UInt32(clamping: max(1, min(options.captureBytesPerCall,
                                                           CaptureOptions.maximumCaptureBytesPerCall)))
        config.ring_bytes = UInt32(clamping: options.ringBufferBytes)
        config.verbose = options.verbose ? 1 : 0

        var error = l7_probes_error()
        var opened: OpaquePointer?
        let status = options.pids.withUnsafeBufferPointer { pids in
            options.ports.withUnsafeBufferPointer { ports in
                config.pids = pids.baseAddress
                config.pid_count = UInt32(pids.count)
                config.ports = ports.baseAddress
                config.port_count = UInt32(ports.count)
                return l7_probes_open(&config, &opened, &error)
            }
        }
        guard status == 0, let opened else { throw Self.translate(error, options: options) }
        probes = opened
        kernelFallbacks = KernelFallback.all.filter { l7_probes_fallbacks(opened) & $0.feature.rawValue != 0 }

        if l7_probes_attach(opened, &error) != 0 {
            close()
            throw Self.translate(error, options: options)
        }
    }

    deinit { close() }

    /// Waits up to `timeoutMs` (the kernel wakes us early only when its ring
    /// fills or a process starts; a TLS rescan due sooner shortens the wait),
    /// then hands the waiting records to `handler` — at most 65536, so a
    /// flood cannot keep the caller from checking for shutdown; the next
    /// call then does not wait. Data chunks are borrowed from the ring: valid
    /// only during the handler call. Returns the number of records read, or a
    /// negative errno.
    @discardableResult
    public func poll(timeoutMs: Int32, _ handler: (CaptureEvent) -> Void) -> Int {
        guard let probes else { return 0 }
        var timeoutMs = timeoutMs
        if let dueNs = tlsDiscovery?.nextRescanNs {
            let nowNs = MonotonicClock.nowNs()
            let untilDueMs = dueNs > nowNs ? (dueNs - nowNs + 999_999) / 1_000_000 : 0
            timeoutMs = Int32(min(UInt64(timeoutMs), untilDueMs))
        }
        return withoutActuallyEscaping(handler) { handler in
            var sink = EventSink(handler: handler, tls: tlsDiscovery)
            let count = withUnsafeMutablePointer(to: &sink) { sinkPointer in
                Int(l7_probes_poll(probes, timeoutMs, { context, record, size in
                    guard let context, let record else { return }
                    let sink = context.assumingMemoryBound(to: EventSink.self)
                    if let event = RecordDecoder.decode(UnsafeRawBufferPointer(start: record, count: size)) {
                        sink.pointee.handler(event)
                        sink.pointee.tls?.note(event)
                    }
                }, sinkPointer))
            }
            tlsDiscovery?.runPending(nowNs: MonotonicClock.nowNs())
            return count
        }
    }

    /// Decides whether a process is traced (`.decide` mode writes one per
    /// process; also usable to stop tracing a process in any mode).
    public func setProcessVerdict(_ tgid: UInt32, trace: Bool) {
        guard let probes else { return }
        _ = l7_probes_set_process_verdict(probes, tgid, UInt8(trace ? L7_VERDICT_TRACE.rawValue : L7_VERDICT_IGNORE.rawValue))
    }

    /// Tells the kernel to stop copying the bytes of a connection (not HTTP,
    /// say). A connection already closed or replaced is left alone. The close
    /// event still comes.
    public func ignoreConnection(tgid: UInt32, fd: Int32, connectionID: UInt64) {
        guard let probes else { return }
        _ = l7_probes_ignore_connection(probes, tgid, fd, connectionID)
    }

    /// Tells the kernel that a connection speaks HTTP/2 (found by user space
    /// from the shape of its frames, when the kernel did not see its preface):
    /// its large calls are then sent whole, in chunks.
    public func markHTTP2(tgid: UInt32, fd: Int32, connectionID: UInt64) {
        guard let probes else { return }
        _ = l7_probes_mark_http2(probes, tgid, fd, connectionID)
    }

    /// Attaches the OpenSSL probes to one file: L7_SSL_* bits, or a negative errno.
    func attachSSL(toFile path: String) -> Int32 {
        guard let probes else { return -ENODEV }
        return l7_probes_attach_ssl(probes, path)
    }

    public func counters() -> CaptureCounters {
        var result = CaptureCounters()
        guard let probes else { return result }
        var raw = l7_counters()
        guard l7_probes_read_counters(probes, &raw) == 0 else { return result }
        result.events = raw.events
        result.lostEvents = raw.lost_events
        result.lostBytes = raw.lost_bytes
        result.uncapturedBytes = raw.uncaptured_bytes
        result.filteredEvents = raw.filtered_events
        result.wakeups = raw.wakeups
        result.sslEvents = raw.ssl_events
        result.sslUnattributed = raw.ssl_unattributed
        result.ciphertextCalls = raw.ciphertext_calls
        result.threadStatesFull = raw.thread_states_full
        return result
    }

    /// Detaches every probe and frees the maps. Idempotent.
    public func close() {
        guard let probes else { return }
        self.probes = nil
        l7_probes_destroy(probes)
    }

    private static func translate(_ error: l7_probes_error, options: CaptureOptions) -> CaptureError {
        let stage = string(error.stage)
        let program = string(error.program)
        let detail = string(error.message)
        let errno = Int32(error.err)
        let map = string(error.map)
        if errno == EPERM && program.isEmpty && map.isEmpty { return .notPrivileged }
        switch stage {
        case "kernel":
            return .kernelTooOld(detail: detail)
        case "load" where program.isEmpty && !map.isEmpty:
            return .mapRejected(map: map, errno: errno, detail: detail)
        case "load":
            return .programRejected(program: program.isEmpty ? "(unknown)" : program, errno: errno, detail: detail)
        case "attach":
            return .attachFailed(program: program, errno: errno)
        default:
            return .other("could not set up the BPF maps (\(stage): \(CaptureError.errorName(errno)))"
                          + (detail.isEmpty ? "" : " [\(detail)]"))
        }
    }

    private static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// What a poll's C callback reaches through its context pointer.
private struct EventSink {
    let handler: (CaptureEvent) -> Void
    let tls: TLSDiscovery?
}

extension ProcessMode {
    var abiValue: UInt32 {
        switch self {
        case .all: return L7_MODE_ALL.rawValue
        case .listed: return L7_MODE_LISTED.rawValue
        case .decide: return L7_MODE_DECIDE.rawValue
        }
    }
}
