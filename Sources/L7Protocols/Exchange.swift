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

    public init(firstEnterNs: UInt64, firstExitNs: UInt64, lastEnterNs: UInt64, lastExitNs: UInt64) {
        self.firstEnterNs = firstEnterNs; self.firstExitNs = firstExitNs
        self.lastEnterNs = lastEnterNs; self.lastExitNs = lastExitNs
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

    public init(connection: ConnectionInfo, request: HTTPRequestHead, response: HTTPResponseHead?,
                requestBodySize: Int, responseBodySize: Int, requestTiming: MessageTiming,
                responseTiming: MessageTiming?, failure: ExchangeFailure? = nil) {
        self.connection = connection; self.request = request; self.response = response
        self.requestBodySize = requestBodySize; self.responseBodySize = responseBodySize
        self.requestTiming = requestTiming; self.responseTiming = responseTiming; self.failure = failure
    }
}
