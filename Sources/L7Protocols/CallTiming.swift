/// Entry and exit times of the read or write call that carried some bytes,
/// and the thread that made it (what links a request a thread serves to
/// the calls it makes meanwhile).
struct CallTiming: Sendable, Equatable {
    var enterNs: UInt64
    var exitNs: UInt64
    var tid: UInt32 = 0
}
