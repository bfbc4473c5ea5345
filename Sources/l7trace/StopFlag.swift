import Synchronization

/// Set from the signal handler's queue, read by the capture loop between polls.
final class ManagedAtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
