import L7Protocols
import L7Spans

/// Rules 2 and 3 of issue 15: a call (client request) made while its
/// process serves a request is that request's child — when, and only when,
/// exactly one served request can be its cause.
///
/// Decided when the call's head is parsed (process P, thread T, time t):
/// - 3/2c, header: the call carries the `traceparent` (T, X) that exactly
///   one request of P, open or closed within `recentContextNs`, received:
///   a proxy forwarding it. The call gets a new id in trace T, parent that
///   request. Several such requests: a new id, no parent. A header P did
///   not receive: the call takes X as its id (the application made it its
///   span), unless a span of P already took X (then a new id, parent X).
/// - 2a, thread: P was seen reading requests on several threads (or on
///   another thread than the one that accepted the connection), never
///   two open at once on one thread, no check failed in P, P is not Go;
///   exactly one open request of P was read by T, and T never called while
///   serving nothing. In a thread-per-request server the thread between
///   reading a request and answering it runs that request's handler only.
/// - 2b, event loop: exactly one request open in all of P, T serves no
///   other, P never called while serving nothing (timers, health checks),
///   and every port P listens on is traced (no request it serves is
///   unseen). The one assumption: a call made while one request is in
///   flight, by a process that makes no calls of its own, is that request's.
/// Anything else: no parent.
///
/// A rule-2 link is checked when both exchanges ended: the call's response
/// must have been read before the request's answer ended (its last write
/// began: the request was still being served; a streaming proxy answers
/// while its call still reads), and under 2a the answer must be begun by
/// T. A failed check refuses the link and flags P (`hopsThreads`,
/// `initiatesCalls`) so the rule is not used for it again. Until then the
/// call's span, and every span that took its trace by rule 1, is held, so
/// no span leaves with a trace id that could change (`TraceCell`).
///
/// "Open" ends when the request's exchange ends (its response complete),
/// not when its response begins: a request looks open a little longer,
/// which can only add candidates (more refusals), never change the one
/// chosen; the check uses the answer's real writes.
extension Linker {
    // MARK: - Server requests

    func serverStarted(_ started: RequestStarted) {
        let tgid = started.connection.pid
        guard let process = activity(tgid, create: true) else { return }
        let tid = started.timing.firstTid
        var evicted: OpenServerRequest?
        // Once known to serve on threads, the acceptor is not asked again.
        let acceptTid = process.severalReaders ? nil : acceptingThread(of: started.connection.key.connectionID)
        // Read by another thread than the one that accepted it, or than
        // an earlier request: the process serves on threads.
        if let acceptTid, acceptTid != tid { process.severalReaders = true }
        if process.open.count >= limits.maxOpenRequestsPerProcess { evicted = process.open.removeFirst() }
        if tid != 0, process.open.contains(where: { $0.tid == tid }) { process.multiplexes = true }
        if process.firstReader == 0 { process.firstReader = tid } else if tid != process.firstReader { process.severalReaders = true }
        // Made in place (a request made first was copied into the list).
        process.open.append(OpenServerRequest(
            connectionID: started.connection.key.connectionID, position: started.position,
            identity: SpanIdentity(traceID: ids.nextTraceID(), spanID: ids.nextSpanID()), tid: tid,
            readNs: started.timing.firstExitNs, context: started.traceparent.flatMap { TraceParent($0) }))
        if let evicted {
            counters.openRequestsOverflow += 1
            close(evicted, responseNs: nil, responseTid: 0)
        }
    }

    /// `serverAcceptTid[id]`, through its cache (asked for each request of
    /// a process not yet known to serve on threads: every request of nginx).
    func acceptingThread(of id: UInt64) -> UInt32? {
        if let known = acceptTidCache.value(for: id) { return known }
        let tid = serverAcceptTid.isEmpty ? nil : serverAcceptTid[id]
        acceptTidCache.store(tid, for: id)
        return tid
    }

    /// The server span's identity fixed at its read, if the read was seen.
    public func serverIdentity(for exchange: Exchange) -> SpanIdentity? {
        guard let position = exchange.position, let process = activity(exchange.connection.pid, create: false),
              let index = process.openIndex(exchange.connection.key.connectionID, position) else { return nil }
        return process.open[index].identity  // read in place, not the request copied
    }

    /// The server exchange ended: its request is no longer open, and the
    /// calls linked to it are checked. Its cell, if calls took it, is returned
    /// for rule 1 to decide.
    func serverEnded(_ exchange: Exchange) -> TraceCell? {
        guard let position = exchange.position, let process = activity(exchange.connection.pid, create: false) else {
            return nil
        }
        guard let index = process.openIndex(exchange.connection.key.connectionID, position) else { return nil }
        let response = exchange.hasResponse ? exchange.responseTiming : nil
        let closedNs = response?.lastExitNs ?? exchange.requestTiming.lastExitNs
        let request = process.open.remove(at: index)
        process.closed(request, atNs: closedNs)
        // Rule 1 decides its cell next, answered or not.
        close(request, responseNs: response?.lastEnterNs, responseTid: response?.firstTid ?? 0, ended: true)
        return request.cell
    }

    /// A server connection closed and its exchanges were flushed: requests
    /// still open on it will never end (dropped by the capture), and would
    /// make every later call of the process ambiguous.
    public func serverConnectionClosed(tgid: UInt32, connectionID: UInt64) {
        guard let process = activity(tgid, create: false),
              process.open.contains(where: { $0.connectionID == connectionID }) else { return }
        let gone = process.open.filter { $0.connectionID == connectionID }
        process.open.removeAll { $0.connectionID == connectionID }
        for request in gone { close(request, responseNs: nil, responseTid: 0) }
    }

    /// `ended`: its exchange ended (rule 1 decides its cell); else it was
    /// forgotten, and its cell takes its fallback now.
    private func close(_ request: OpenServerRequest, responseNs: UInt64?, responseTid: UInt32, ended: Bool = false) {
        for call in request.calls {
            if let responseNs {
                call.serverEndNs = responseNs
                call.serverResponseTid = responseTid
                verify(call)
            } else {
                refuse(call, flag: false)  // never answered (as far as the capture saw): nothing to check against
                counters.refusedUnverifiable += 1
            }
        }
        // An evicted or dropped request never gets rule 1's decision.
        if !ended, let cell = request.cell { cell.refuse() }
    }

    // MARK: - Calls

    /// Rules 3 and 2 for a call whose head was just parsed: its identity,
    /// and the cell its trace waits on when the link must be checked.
    func callIdentity(_ started: RequestStarted) -> (SpanIdentity, TraceCell?, InProcessRule?) {
        let tgid = started.connection.pid
        if let header = started.traceparent, let context = TraceParent(header) {
            return forwardedIdentity(tgid, context, atNs: started.timing.firstEnterNs)
        }
        let fresh = SpanIdentity(traceID: ids.nextTraceID(), spanID: ids.nextSpanID())
        let tid = started.timing.firstTid
        guard let process = activity(tgid, create: true) else {
            counters.spontaneousCalls += 1
            return (fresh, nil, nil)
        }
        guard !process.open.isEmpty else {
            process.markSpontaneous(thread: tid)
            counters.spontaneousCalls += 1
            return (fresh, nil, nil)
        }
        if isGo(process, tgid) {
            counters.refusedRuntime += 1
            return (fresh, nil, nil)
        }
        var onThread = 0
        var candidate = 0
        for (i, request) in process.open.enumerated() where request.tid == tid {
            onThread += 1
            candidate = i
        }
        let rule: InProcessRule
        let threadPerRequest = process.severalReaders && !process.multiplexes && !process.hopsThreads
        if onThread == 1, tid != 0, threadPerRequest, !process.spontaneousThreads.contains(tid) {
            rule = .thread
        } else if onThread <= 1, process.open.count == 1, !process.initiatesCalls, servesVisibly(process, tgid) {
            rule = .eventLoop
            candidate = 0
        } else {
            if onThread > 1 || process.open.count > 1 { counters.refusedAmbiguous += 1 } else { counters.refusedFlagged += 1 }
            return (fresh, nil, nil)
        }
        guard process.open[candidate].calls.count < limits.maxCallsPerRequest else {
            counters.refusedAmbiguous += 1
            return (fresh, nil, nil)
        }
        let served = process.open[candidate]
        let parentCell = served.cell ?? TraceCell(.undecided, fallback: served.context?.traceID ?? served.identity.traceID,
                                                  deadlineNs: served.readNs &+ limits.maxPendingNs)
        let cell = TraceCell(.tentative(parent: parentCell), fallback: fresh.traceID,
                             deadlineNs: started.timing.firstEnterNs &+ limits.maxPendingNs)
        cell.rule = rule
        cell.tgid = tgid
        cell.clientTid = tid
        process.open[candidate].cell = parentCell
        process.open[candidate].calls.append(cell)
        counters.tentative += 1
        return (SpanIdentity(traceID: fresh.traceID, spanID: fresh.spanID, parentSpanID: served.identity.spanID), cell, rule)
    }

    /// Rule 3: a call carrying `traceparent` (T, X).
    private func forwardedIdentity(_ tgid: UInt32, _ context: TraceParent, atNs: UInt64) -> (SpanIdentity, TraceCell?, InProcessRule?) {
        var matches = 0
        var parent = SpanID(0)
        let process = activity(tgid, create: true)
        if let process {
            for request in process.open where request.context.map({ Self.same($0, context) }) ?? false {
                matches += 1
                parent = request.identity.spanID
            }
            for received in process.recentlyClosed
            where Self.same(received.context, context) && received.closedNs &+ limits.recentContextNs >= atNs {
                matches += 1
                parent = received.spanID
            }
        }
        if matches == 1 {
            counters.linksHeader += 1
            return (SpanIdentity(traceID: context.traceID, spanID: ids.nextSpanID(), parentSpanID: parent), nil, .header)
        }
        if matches > 1 {
            // Forwarded, but by which of them is not known.
            counters.refusedAmbiguous += 1
            return (SpanIdentity(traceID: context.traceID, spanID: ids.nextSpanID()), nil, nil)
        }
        if process?.adopted.contains(context.parentID) ?? false {
            // The application sends one context with several calls: each its own span, under it.
            counters.headerReused += 1
            return (SpanIdentity(traceID: context.traceID, spanID: ids.nextSpanID(), parentSpanID: context.parentID), nil, nil)
        }
        process?.adopt(context.parentID)
        // The header names the span the server will call its parent: this one.
        return (SpanIdentity(traceID: context.traceID, spanID: context.parentID), nil, nil)
    }

    private static func same(_ a: TraceParent, _ b: TraceParent) -> Bool {
        a.traceID == b.traceID && a.parentID == b.parentID
    }

    private func servesVisibly(_ process: ProcessActivity, _ tgid: UInt32) -> Bool {
        if let known = process.fullyVisible { return known }
        let visible = isFullyVisible(tgid)
        process.fullyVisible = visible
        return visible
    }

    private func isGo(_ process: ProcessActivity, _ tgid: UInt32) -> Bool {
        if let known = process.isGo { return known }
        let go = isGoProcess(tgid)
        process.isGo = go
        return go
    }

    // MARK: - Checks

    /// Checks a tentative link once what it needs is known.
    func verify(_ cell: TraceCell) {
        guard case .tentative = cell.state, let servedEndNs = cell.serverEndNs else { return }
        guard let endNs = cell.clientEndNs else {
            // The request was answered and the call's response not read yet.
            // On one thread the read would have come first: refuse now.
            if cell.rule == .thread || cell.serverResponseTid == cell.clientTid {
                counters.refusedLate += 1
                refuse(cell, flag: true)
            }
            return
        }
        // The call must lie inside the request it serves: its response read
        // before the answer's last write. A proxy streaming a large response
        // begins answering before its call ends, so not "before the answer began".
        if endNs > servedEndNs {
            counters.refusedLate += 1
            refuse(cell, flag: true)
        } else if cell.rule == .thread && cell.serverResponseTid != cell.clientTid {
            counters.refusedThreadHop += 1
            refuse(cell, flag: true)
        } else {
            cell.confirm()
            if cell.rule == .thread { counters.linksThread += 1 } else { counters.linksEventLoop += 1 }
        }
    }

    /// The call gets its own trace; with `flag`, its process no longer uses the rule.
    func refuse(_ cell: TraceCell, flag: Bool) {
        guard case .tentative = cell.state else { return }
        cell.refuse()
        guard flag, let process = activity(cell.tgid, create: false) else { return }
        if cell.rule == .thread { process.hopsThreads = true } else { process.initiatesCalls = true }
    }

    /// A pending cell past its deadline: a tentative link is refused (its
    /// check never completed), an undecided request takes its own trace.
    func expire(_ cell: TraceCell) {
        if case .tentative = cell.state { counters.pendingExpired += 1 }
        cell.refuse()
    }

    // MARK: - Held until final

    /// Emits `record` once `cell`'s trace is final; `own`: the cell is the
    /// span's own tentative link (a refusal makes it a root).
    func finish(_ record: consuming SpanRecord, _ resource: ProcessResource, cell: TraceCell, own: Bool,
                emit: (SpanRecord, ProcessResource) -> Void) {
        if let trace = cell.resolve(nowNs: nowNs, expire: expire) {
            var record = record
            Self.apply(trace, of: cell, own: own, to: &record)
            return emit(record, resource)
        }
        if pending.count >= limits.maxHeldSpans {
            counters.pendingOverflow += 1
            releasePending(nowNs: .max, first: 1, emit: emit)
        }
        pending.append(PendingSpan(record: record, resource: resource, cell: cell, own: own))
        counters.pendingHeld += 1
    }

    static func apply(_ trace: TraceID, of cell: TraceCell, own: Bool, to record: inout SpanRecord) {
        record.traceID = trace
        if own && cell.refused {
            record.parentSpanID = nil
            record.attributes.removeAll { $0.key == "l7trace.link" }
        }
    }

    /// Emits pending spans whose trace is final at `nowNs` (the first
    /// `first` whatever their state: decided as their fallbacks).
    func releasePending(nowNs: UInt64, first: Int = 0, emit: (SpanRecord, ProcessResource) -> Void) {
        guard !pending.isEmpty else { return }
        var kept: [PendingSpan] = []
        for (i, span) in pending.enumerated() {
            let now = i < first ? UInt64.max : nowNs
            if let trace = span.cell.resolve(nowNs: now, expire: expire) {
                var record = span.record
                Self.apply(trace, of: span.cell, own: span.own, to: &record)
                emit(record, span.resource)
            } else {
                kept.append(span)
            }
        }
        pending = kept
    }

    /// Emits the pending spans whose trace id became final since (each
    /// poll; `advance` does it too).
    public func releaseResolved(emit: (SpanRecord, ProcessResource) -> Void) {
        releasePending(nowNs: nowNs, emit: emit)
    }

    /// The process is gone: what it served stays pending until its deadline.
    public func processExited(_ tgid: UInt32) {
        processes[tgid] = nil
        if lastActivity?.tgid == tgid { lastActivity = nil }
        if previousActivity?.tgid == tgid { previousActivity = nil }
    }

    /// What `tgid` has shown; with `create`, a new record unless
    /// `maxProcesses` are kept (counted). Consecutive events mostly come from
    /// a client and its server: the last two found are checked before any hashing.
    @discardableResult
    func activity(_ tgid: UInt32, create: Bool) -> ProcessActivity? {
        if let last = lastActivity, last.tgid == tgid { return last.process }
        if let previous = previousActivity, previous.tgid == tgid {
            swap(&lastActivity, &previousActivity)
            return previous.process
        }
        if let process = processes[tgid] {
            previousActivity = lastActivity
            lastActivity = (tgid, process)
            return process
        }
        guard create else { return nil }
        guard processes.count < limits.maxProcesses else {
            counters.processesFull += 1
            return nil
        }
        let process = ProcessActivity()
        processes[tgid] = process
        previousActivity = lastActivity
        lastActivity = (tgid, process)
        return process
    }
}

struct PendingSpan {
    var record: SpanRecord
    var resource: ProcessResource
    var cell: TraceCell
    var own: Bool
}
