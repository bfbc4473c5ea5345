/// What the kernel side counted since load, summed over CPUs. Every loss is
/// here so that it can be reported rather than guessed.
public struct CaptureCounters: Sendable, Equatable {
    /// Records written to the ring buffer.
    public var events: UInt64 = 0
    /// Records that did not fit in the ring buffer, and the bytes their calls moved.
    public var lostEvents: UInt64 = 0
    public var lostBytes: UInt64 = 0
    /// Bytes calls moved beyond the captured prefix.
    public var uncapturedBytes: UInt64 = 0
    /// Data calls on connections dropped by a verdict, the port selection or
    /// the self-traffic check.
    public var filteredEvents: UInt64 = 0
    /// Times the kernel woke the reader early because the ring was filling.
    public var wakeups: UInt64 = 0
    /// OpenSSL reads and writes whose plaintext was sent.
    public var sslEvents: UInt64 = 0
    /// OpenSSL reads and writes that moved bytes on no socket the kernel
    /// could name (no syscall under the call, no earlier fd for the SSL object).
    public var sslUnattributed: UInt64 = 0
    /// Syscalls on TLS connections whose ciphertext stayed in the kernel.
    public var ciphertextCalls: UInt64 = 0
    /// Calls of traced threads not followed because the kernel's table of
    /// thread states was full (kernels without task storage only).
    public var threadStatesFull: UInt64 = 0

    public init() {}
}
