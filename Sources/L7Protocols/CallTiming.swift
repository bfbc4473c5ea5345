/// Entry and exit times of the read or write call that carried some bytes.
struct CallTiming: Sendable, Equatable {
    var enterNs: UInt64
    var exitNs: UInt64
}
