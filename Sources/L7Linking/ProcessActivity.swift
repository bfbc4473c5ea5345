import L7Protocols
import L7Spans

/// A server request a process has read and not yet answered (as far as
/// the linker knows: until its exchange ends).
struct OpenServerRequest {
    var connectionID: UInt64
    var position: RequestPosition
    /// The server span's identity, fixed at its read: `traceID` is used when
    /// neither rule 1 nor a header gives it one.
    var identity: SpanIdentity
    /// The thread whose read brought the request's first byte.
    var tid: UInt32
    var readNs: UInt64
    /// The `traceparent` it received, if valid.
    var context: TraceParent?
    /// Made when a call takes this request as its parent.
    var cell: TraceCell?
    /// Calls linked to it by rule 2, verified when its exchange ends.
    var calls: [TraceCell] = []
}

/// A `traceparent` a request of the process received, and that request's
/// span: a call carrying the same header forwards it (rule 3).
struct ReceivedContext {
    var context: TraceParent
    var spanID: SpanID
    var closedNs: UInt64
}

/// What the linker knows of one process's serving (issue 15, rule 2): the
/// requests it is serving, and what it has shown of its threading. A class:
/// found by one lookup (or none: the linker keeps the last one at hand) and
/// changed in place, where a value in a dictionary took a lookup per read and
/// per change (LinkBench: ~2,000 instructions a request in lookups).
final class ProcessActivity {
    var open: [OpenServerRequest] = []
    /// Contexts of requests closed lately (≤ `recentContexts`).
    var recentlyClosed: [ReceivedContext] = []
    /// Span ids client spans of the process took from a header (rule 3), LRU.
    var adopted: Set<SpanID> = []
    var adoptedOrder: [SpanID] = []
    var adoptedNext = 0
    /// A tentatively linked call failed its check under 2a (response on
    /// another thread, or the call outlived the request's answer): threads
    /// do not map to requests here.
    var hopsThreads = false
    /// A call was written while the process served nothing (timers, health
    /// checks): a call made while one request is open need not be its.
    var initiatesCalls = false
    /// A thread read a request while another it had read was still open.
    var multiplexes = false
    /// The first thread seen reading a request, and whether others did (or
    /// a request was read by another thread than its connection's acceptor):
    /// only a process serving on several threads is taken for
    /// thread-per-request (2a); one thread doing it all is an event loop (2b).
    var firstReader: UInt32 = 0
    var severalReaders = false
    /// Threads that wrote a call while they served nothing (≤ 256).
    var spontaneousThreads: Set<UInt32> = []
    private var lastSpontaneousThread: UInt32?
    /// Go runtime (goroutines move between threads): nil until asked.
    var isGo: Bool?
    /// Every port it listens on is traced, so no request it serves is
    /// invisible (2b counts them all): nil until asked.
    var fullyVisible: Bool?

    static let recentContexts = 32
    static let maxAdopted = 4096
    static let maxSpontaneousThreads = 256

    /// The first open request read on `connectionID` at `position`.
    func openIndex(_ connectionID: UInt64, _ position: RequestPosition) -> Int? {
        open.firstIndex { $0.connectionID == connectionID && $0.position == position }
    }

    func adopt(_ id: SpanID) {
        guard adopted.insert(id).inserted else { return }
        if adoptedOrder.count < Self.maxAdopted {
            adoptedOrder.append(id)
        } else {
            adopted.remove(adoptedOrder[adoptedNext])
            adoptedOrder[adoptedNext] = id
            adoptedNext = (adoptedNext + 1) % Self.maxAdopted
        }
    }

    func closed(_ request: OpenServerRequest, atNs: UInt64) {
        guard let context = request.context else { return }
        if recentlyClosed.count >= Self.recentContexts { recentlyClosed.removeFirst() }
        recentlyClosed.append(ReceivedContext(context: context, spanID: request.identity.spanID, closedNs: atNs))
    }

    func markSpontaneous(thread: UInt32) {
        initiatesCalls = true
        // A client process calls from the same few threads: no hashing for the last one again.
        guard thread != lastSpontaneousThread else { return }
        lastSpontaneousThread = thread
        if spontaneousThreads.count < Self.maxSpontaneousThreads {
            spontaneousThreads.insert(thread)
        } else {
            hopsThreads = true  // too many to remember: no thread is trusted
        }
    }
}
