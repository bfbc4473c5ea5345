import L7Spans

/// The rule that gave a span its parent inside its process (issue 15,
/// rules 2 and 3), named by the `l7trace.link` attribute.
public enum InProcessRule: Sendable, Equatable {
    /// 2a: the only request the calling thread was serving.
    case thread
    /// 2b: the only request the calling process was serving.
    case eventLoop
    /// 2c/3: the call carried the `traceparent` the served request brought.
    case header

    public var attribute: String {
        switch self {
        case .thread: return "thread"
        case .eventLoop: return "event_loop"
        case .header: return "header"
        }
    }
}

/// A trace id that may still change, shared by reference along a chain of
/// links: a call tentatively linked to the request its process serves
/// (rule 2) until the link is verified, the request it serves until rule 1
/// decides that request's trace, and every span below them. A span whose
/// cell is not final is held: no span is exported with a trace id that could
/// still change. Past its deadline a pending cell takes its fallback (a
/// tentative link is then refused), so every hold is bounded.
final class TraceCell {
    enum State {
        /// A server request whose trace rule 1 decides when its exchange ends.
        case undecided
        /// A call linked to `parent` until verified: then `parent`'s trace.
        case tentative(parent: TraceCell)
        /// Decided: the same trace as another cell.
        case alias(TraceCell)
        /// Decided.
        case own(TraceID)
    }

    var state: State
    /// The trace taken when no decision comes in time, or the link is refused.
    let fallback: TraceID
    let deadlineNs: UInt64
    /// Decided as its fallback (a tentative link refused, or no decision in
    /// time): the span it belongs to is a root. A decided cell never changes.
    private(set) var refused = false

    // A tentative link's verification (rule 2).
    var rule: InProcessRule = .thread
    var tgid: UInt32 = 0
    var clientTid: UInt32 = 0
    /// When the call's response was read (nil: not yet; `.max`: never).
    var clientEndNs: UInt64?
    /// When the served request's answer ended (its last write began), and
    /// on which thread the answer began.
    var serverEndNs: UInt64?
    var serverResponseTid: UInt32 = 0

    init(_ state: State, fallback: TraceID, deadlineNs: UInt64) {
        self.state = state
        self.fallback = fallback
        self.deadlineNs = deadlineNs
    }

    var isPending: Bool {
        switch state {
        case .undecided, .tentative: return true
        case .alias, .own: return false
        }
    }

    /// Rule 1 decided a server request's trace (ignored once decided).
    func decide(_ trace: TraceID) {
        guard case .undecided = state else { return }
        state = .own(trace)
    }

    /// Rule 1 decided that a server request's trace is its client's.
    func follow(_ cell: TraceCell) {
        guard case .undecided = state else { return }
        state = .alias(cell)
    }

    func confirm() {
        guard case .tentative(let parent) = state else { return }
        state = .alias(parent)
    }

    /// The fallback, for good: a refused link, or a decision that did not come.
    func refuse() {
        guard isPending else { return }
        refused = true
        state = .own(fallback)
    }

    /// The final trace id, or nil while a decision above is pending.
    /// Pending cells past their deadline are given to `expire` (which must
    /// decide them). Decided chains are shortened as they are walked.
    func resolve(nowNs: UInt64, expire: (TraceCell) -> Void) -> TraceID? {
        var cell = self
        // Parents are always created before their children, so a chain has
        // no cycle; the bound only guards against a bug.
        for _ in 0..<256 {
            switch cell.state {
            case .own(let trace):
                if cell !== self { state = .own(trace) }
                return trace
            case .alias(let parent):
                cell = parent
            case .tentative, .undecided:
                guard nowNs >= cell.deadlineNs else { return nil }
                expire(cell)
                cell.refuse()
            }
        }
        state = .own(fallback)
        return fallback
    }
}
