/// One parser fed a whole recording, as a benchmark subject.
protocol ParserReplay {
    /// Shown in the table: "l7trace", "llhttp", …
    var name: String { get }
    /// Feeds every record of the recording once, from fresh parser state,
    /// and returns the exchanges completed, the header fields handed over
    /// (both directions), and the thread CPU time that the parsing took
    /// (set-up a real consumer would not repeat is left out).
    mutating func replay() -> ReplayResult
}

/// What one replay of a recording did and cost.
struct ReplayResult {
    var exchanges: Int
    var fields: Int
    var cpuNs: UInt64
}
