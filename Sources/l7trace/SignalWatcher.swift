import Foundation

/// Takes SIGINT and SIGTERM on a thread of its own, with `sigwait`, so the
/// capture loop can stop between polls, flush and exit 0.
///
/// The signals are blocked in every thread from the first line of `run`, so
/// one that comes while the probes load, or before the watcher's thread
/// runs, stays pending until it is taken. (A dispatch signal source with the
/// signals ignored lost them: an ignored signal is discarded when it is sent,
/// and the source began watching only some time after `resume()`; CI saw a
/// tracer run on after its SIGTERM.)
final class SignalWatcher {
    static let stopSignals: [Int32] = [SIGINT, SIGTERM]

    /// Call before any thread is created: threads inherit the mask.
    static func blockStopSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// `onFirst` asks for a clean stop; a second signal means the user does
    /// not want to wait for the flush.
    init(onFirst: @escaping @Sendable () -> Void, onSecond: @escaping @Sendable (Int32) -> Void) {
        let thread = Thread {
            var set = SignalWatcher.signalSet()
            var received = 0
            while true {
                var number: Int32 = 0
                guard sigwait(&set, &number) == 0 else { continue }
                received += 1
                if received == 1 { onFirst() } else { onSecond(number) }
            }
        }
        thread.name = "l7trace.signals"
        thread.start()
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in stopSignals { sigaddset(&set, number) }
        return set
    }
}
