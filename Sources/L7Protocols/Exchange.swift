import L7Events

/// What the protocols layer knows about the connection an exchange ran on.
public struct ConnectionInfo: Sendable, Equatable {
    public var key: ConnectionKey
    public var role: ConnectionRole
    public var local: SocketAddress?
    public var remote: SocketAddress?
    /// Plaintext came from SSL probes: the scheme is https.
    public var isTLS: Bool

    public init(key: ConnectionKey, role: ConnectionRole, local: SocketAddress?, remote: SocketAddress?, isTLS: Bool) {
        self.key = key; self.role = role; self.local = local; self.remote = remote; self.isTLS = isTLS
    }

    public var pid: UInt32 { key.tgid }
}

/// Monotonic kernel times (CLOCK_MONOTONIC ns) of the calls that carried a
/// message's first and last bytes.
public struct MessageTiming: Sendable, Equatable {
    public var firstEnterNs: UInt64
    public var firstExitNs: UInt64
    public var lastEnterNs: UInt64
    public var lastExitNs: UInt64
    /// The thread whose call carried the first byte (0 when not known):
    /// which thread read a request, or began writing a response.
    public var firstTid: UInt32

    public init(firstEnterNs: UInt64, firstExitNs: UInt64, lastEnterNs: UInt64, lastExitNs: UInt64, firstTid: UInt32 = 0) {
        self.firstEnterNs = firstEnterNs; self.firstExitNs = firstExitNs
        self.lastEnterNs = lastEnterNs; self.lastExitNs = lastExitNs; self.firstTid = firstTid
    }
}

public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request-target exactly as sent (origin-form `/a?b`, absolute-form, `*`, authority-form).
    public var target: String
    /// "1.0", "1.1", "2".
    public var version: String
    public var headers: HTTPHeaders

    public init(method: String, target: String, version: String, headers: HTTPHeaders) {
        self.method = method; self.target = target; self.version = version; self.headers = headers
    }
}

public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var version: String
    /// HTTP/2's fields. Empty for HTTP/1: its parser reads a response's
    /// fields for framing only (no span reports them).
    public var headers: HTTPHeaders

    public init(status: Int, reason: String, version: String, headers: HTTPHeaders) {
        self.status = status; self.reason = reason; self.version = version; self.headers = headers
    }
}

/// Why an exchange ended without a complete response.
public enum ExchangeFailure: String, Sendable, Equatable {
    /// The connection closed before a response arrived.
    case connectionClosed = "connection_closed"
    /// The connection closed in the middle of the response body.
    case responseIncomplete = "response_incomplete"
    /// HTTP/2: the stream was reset (RST_STREAM) before it completed.
    case streamReset = "stream_reset"
    /// HTTP/2: the peer's GOAWAY said it never processed the stream.
    case streamRefused = "stream_refused"
}

/// Fields an exchange carried that the capture could not decode: an HTTP/2
/// header referring to a compression-table entry older than the capture
/// (it began mid-connection, or lost a header block). They are reported as
/// unknown rather than guessed.
public struct UndecodedFields: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let method = UndecodedFields(rawValue: 1 << 0)
    /// The request target (`:path`).
    public static let target = UndecodedFields(rawValue: 1 << 1)
    public static let authority = UndecodedFields(rawValue: 1 << 2)
    public static let status = UndecodedFields(rawValue: 1 << 3)
    /// Whether the exchange is gRPC (`content-type`) could not be told.
    public static let contentType = UndecodedFields(rawValue: 1 << 4)
    public static let grpcStatus = UndecodedFields(rawValue: 1 << 5)
    /// Other header fields whose name or value is unknown.
    public static let otherFields = UndecodedFields(rawValue: 1 << 6)
    /// HTTP/1: a hole in the capture fell in the body's chunked framing.
    public static let requestBodySize = UndecodedFields(rawValue: 1 << 7)
    public static let responseBodySize = UndecodedFields(rawValue: 1 << 8)

    /// Lowercase names for the span attribute that lists them.
    public var names: [String] {
        let all: [(UndecodedFields, String)] = [(.method, "method"), (.target, "target"), (.authority, "authority"),
                                                (.status, "status"), (.contentType, "content_type"),
                                                (.grpcStatus, "grpc_status"), (.otherFields, "other_fields"),
                                                (.requestBodySize, "request_body_size"),
                                                (.responseBodySize, "response_body_size")]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// What a gRPC call (HTTP/2 with `content-type: application/grpc*`) adds to its exchange.
public struct GRPCCallInfo: Sendable, Equatable {
    /// The call's gRPC status: `grpc-status` from trailers (or a
    /// trailers-only response), else mapped from the HTTP status, the
    /// RST_STREAM code or the connection's end. nil when not known.
    public var statusCode: Int?
    /// `grpc-message`, percent-decoded.
    public var statusMessage: String?
    /// Length-prefixed messages each way; nil when a hole hid a message boundary.
    public var requestMessages: Int?
    public var responseMessages: Int?

    public init(statusCode: Int?, statusMessage: String? = nil, requestMessages: Int? = nil,
                responseMessages: Int? = nil) {
        self.statusCode = statusCode; self.statusMessage = statusMessage
        self.requestMessages = requestMessages; self.responseMessages = responseMessages
    }
}

/// Where a request sat on its connection, as both ends of a TCP connection
/// count it: what links a server's exchange to the client's request.
public enum RequestPosition: Sendable, Equatable, Hashable {
    /// HTTP/1: the request's number on the connection (0 first, placeholders
    /// and overflowed requests counted). `exact`: the count started with
    /// the connection and the request direction lost nothing before it (no
    /// hole, drop, overflow or lost sync), so the other end counts the same.
    case http1(sequence: UInt64, exact: Bool)
    /// HTTP/2: the stream id, the same at both ends and never reused.
    case http2(stream: UInt32)
}

/// A request head was parsed on a client connection: its span's identity
/// can be fixed now, before the server's exchange (which may end first) is
/// linked to it.
public struct RequestStarted: Sendable {
    public var connection: ConnectionInfo
    public var position: RequestPosition
    public var timing: MessageTiming
    /// The request's single `traceparent` value, when it carried one.
    public var traceparent: String?

    public init(connection: ConnectionInfo, position: RequestPosition, timing: MessageTiming, traceparent: String? = nil) {
        self.connection = connection; self.position = position; self.timing = timing; self.traceparent = traceparent
    }
}

/// One request and its response (if any), stitched from one connection.
public struct Exchange: Sendable, Equatable {
    public var connection: ConnectionInfo
    public var request: HTTPRequestHead
    public var response: HTTPResponseHead?
    /// Body bytes (de-chunked payload length for chunked bodies).
    public var requestBodySize: Int
    public var responseBodySize: Int
    public var requestTiming: MessageTiming
    public var responseTiming: MessageTiming?
    public var failure: ExchangeFailure?
    /// HTTP/2: the stream the exchange ran on.
    public var streamID: UInt32?
    /// HTTP/2: the RST_STREAM code that ended the stream, or the GOAWAY code
    /// for a stream the peer never processed.
    public var streamErrorCode: UInt32?
    /// Set for gRPC calls; such an exchange is an RPC, not an HTTP request.
    public var grpc: GRPCCallInfo?
    /// Fields the capture could not decode (HTTP/2 after a mid-connection start).
    public var undecoded: UndecodedFields = []
    /// The request's place on its connection (see `RequestPosition`).
    public var position: RequestPosition?

    /// Whether a response head was seen. Hot paths ask this rather than
    /// `response == nil`, which resolves to Equatable's `==` and copies the head.
    public var hasResponse: Bool {
        if case .some = response { return true }
        return false
    }

    /// Whether the exchange is a gRPC call (see `hasResponse` for why not `grpc != nil`).
    public var isGRPC: Bool {
        if case .some = grpc { return true }
        return false
    }

    public init(connection: ConnectionInfo, request: HTTPRequestHead, response: HTTPResponseHead?,
                requestBodySize: Int, responseBodySize: Int, requestTiming: MessageTiming,
                responseTiming: MessageTiming?, failure: ExchangeFailure? = nil) {
        self.connection = connection; self.request = request; self.response = response
        self.requestBodySize = requestBodySize; self.responseBodySize = responseBodySize
        self.requestTiming = requestTiming; self.responseTiming = responseTiming; self.failure = failure
    }
}
