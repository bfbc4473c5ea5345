/// One record from the capture layer, in a shape that a recorded stream or a
/// test can produce as well as the ring buffer.
///
/// Ownership: the payload of `.data` is *borrowed*. It points into the ring
/// buffer (or a test's array) and is valid only during the call that hands
/// the event over; a consumer that needs bytes later copies them.
public enum CaptureEvent {
    case open(ConnectionOpened)
    case data(DataChunk)
    case close(ConnectionClosed)
    case processStarted(ProcessStarted)
    case processForked(ProcessForked)
    case processExited(ProcessExited)
}

/// A connection became known: by connect (client), accept (server), or the
/// first data on a socket that predates the tracer (role unknown).
public struct ConnectionOpened: Sendable {
    public var key: ConnectionKey
    public var tid: UInt32
    public var fd: Int32
    public var role: ConnectionRole
    public var local: SocketAddress?
    public var remote: SocketAddress?
    /// Monotonic (CLOCK_MONOTONIC) nanoseconds.
    public var timestampNs: UInt64

    public init(key: ConnectionKey, tid: UInt32, fd: Int32, role: ConnectionRole,
                local: SocketAddress?, remote: SocketAddress?, timestampNs: UInt64) {
        self.key = key; self.tid = tid; self.fd = fd; self.role = role
        self.local = local; self.remote = remote; self.timestampNs = timestampNs
    }
}

/// Bytes that one read or write call moved. `returnedLength` is what the call
/// returned; `bytes` is the captured part of it, starting at `offset` within
/// the call. Bytes of the call that are not in any chunk are a hole.
public struct DataChunk {
    public var key: ConnectionKey
    public var tid: UInt32
    public var fd: Int32
    public var direction: Direction
    public var source: DataSource
    /// Monotonic nanoseconds at the call's entry and exit. A syscall read's
    /// entry is not seen (the kernel side catches reads at their exit):
    /// `enterNs` is then its exit time.
    public var enterNs: UInt64
    public var exitNs: UInt64
    /// Total bytes the call moved.
    public var returnedLength: Int
    /// Offset of `bytes` within the call's data (0 unless a large call was split).
    public var offset: Int
    /// Whether this is the last chunk of the call.
    public var isLastChunk: Bool
    /// Borrowed: valid only during the delivering call.
    public var bytes: UnsafeRawBufferPointer

    public init(key: ConnectionKey, tid: UInt32, fd: Int32, direction: Direction, source: DataSource,
                enterNs: UInt64, exitNs: UInt64, returnedLength: Int, offset: Int = 0,
                isLastChunk: Bool = true, bytes: UnsafeRawBufferPointer) {
        self.key = key; self.tid = tid; self.fd = fd; self.direction = direction; self.source = source
        self.enterNs = enterNs; self.exitNs = exitNs; self.returnedLength = returnedLength
        self.offset = offset; self.isLastChunk = isLastChunk; self.bytes = bytes
    }
}

/// An fd of `key.tgid` stopped naming the connection.
public struct ConnectionClosed: Sendable {
    public var key: ConnectionKey
    public var fd: Int32
    public var timestampNs: UInt64
    /// Other fds (of this process, or of others that inherited it across
    /// fork) still refer to the socket: the connection goes on.
    public var shared: Bool

    public init(key: ConnectionKey, fd: Int32, timestampNs: UInt64, shared: Bool = false) {
        self.key = key; self.fd = fd; self.timestampNs = timestampNs; self.shared = shared
    }
}

/// A process called exec (so its name and environment may have changed).
public struct ProcessStarted: Sendable {
    public var tgid: UInt32
    public var parentTgid: UInt32
    public var timestampNs: UInt64

    public init(tgid: UInt32, parentTgid: UInt32, timestampNs: UInt64) {
        self.tgid = tgid; self.parentTgid = parentTgid; self.timestampNs = timestampNs
    }
}

/// A traced process forked a new one (`tgid`), which runs the same program
/// until it execs.
public struct ProcessForked: Sendable {
    public var tgid: UInt32
    public var parentTgid: UInt32
    public var timestampNs: UInt64

    public init(tgid: UInt32, parentTgid: UInt32, timestampNs: UInt64) {
        self.tgid = tgid; self.parentTgid = parentTgid; self.timestampNs = timestampNs
    }
}

public struct ProcessExited: Sendable {
    public var tgid: UInt32
    public var timestampNs: UInt64

    public init(tgid: UInt32, timestampNs: UInt64) {
        self.tgid = tgid; self.timestampNs = timestampNs
    }
}
