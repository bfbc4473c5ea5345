/// Median throughput of one parser over the rounds of a run.
struct Measurement {
    var name: String
    var megabytesPerSecond: Double
    var exchangesPerSecond: Double
    /// Exchanges one replay of the recording completes.
    var exchangesPerReplay: Int
    /// Header fields one replay hands over, both directions (ours leaves
    /// HTTP/2 pseudo-header fields out of an exchange's headers).
    var fieldsPerReplay: Int
}
