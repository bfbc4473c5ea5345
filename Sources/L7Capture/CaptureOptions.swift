/// How the kernel treats processes the user did not name.
public enum ProcessMode: Sendable {
    /// Trace every process on the host (except the tracer itself and those
    /// given an ignore verdict).
    case all
    /// Trace only the listed pids and their forked children (`--pid`).
    case listed
    /// Send events of processes without a verdict so that user space can
    /// decide and call `Capture.setProcessVerdict` (`--service`). Listed pids
    /// are traced too. An exec drops the verdict so it is decided again.
    case decide
}

/// What to load into the kernel. Fixed for the life of a `Capture`.
public struct CaptureOptions: Sendable {
    public var processMode: ProcessMode
    /// Processes traced whatever the mode; their verdict survives exec.
    public var pids: [UInt32]
    /// When not empty, only connections with a local or remote port in this
    /// list are tracked.
    public var ports: [UInt16]
    /// Bytes copied per read or write call; the rest of a call is a hole.
    /// Clamped to 1...16384.
    public var captureBytesPerCall: Int
    /// Size of the kernel ring buffer (rounded up to a power of two).
    public var ringBufferBytes: Int
    /// Pass libbpf's messages to stderr (also `L7TRACE_VERIFIER_LOG=1`).
    public var verbose: Bool

    public static let defaultCaptureBytesPerCall = 4096
    public static let maximumCaptureBytesPerCall = 16384

    public init(processMode: ProcessMode = .all, pids: [UInt32] = [], ports: [UInt16] = [],
                captureBytesPerCall: Int = CaptureOptions.defaultCaptureBytesPerCall,
                ringBufferBytes: Int = 8 << 20, verbose: Bool = false) {
        self.processMode = processMode
        self.pids = pids
        self.ports = ports
        self.captureBytesPerCall = captureBytesPerCall
        self.ringBufferBytes = ringBufferBytes
        self.verbose = verbose
    }
}
