import Dispatch
import Foundation

/// Turns SIGINT/SIGTERM into a callback on a private queue, so the capture
/// loop can stop between polls, flush and exit 0.
final class SignalWatcher {
    private let sources: [DispatchSourceSignal]
    init(signals: [Int32], onSignal: @escaping () -> Void) {
        let queue = DispatchQueue(label: "l7trace.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler(handler: onSignal)
            source.resume()
            return source
        }
    }

    deinit { sources.forEach { $0.cancel() } }
}
