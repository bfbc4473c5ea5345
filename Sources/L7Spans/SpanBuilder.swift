import L7Events
import L7Protocols

/// Maps an HTTP exchange to one span, following the HTTP semantic
/// conventions (names, attributes, status) and W3C Trace Context.
///
/// Holds no per-connection state. The id generator lives in a reference
/// box so that `span(for:)` need not be `mutating`: copies of a builder
/// share one generator, and a builder must stay on one thread.
public struct SpanBuilder {
    public let options: SpanOptions
    public let clock: ClockConversion
    let ids: IDSource
    let recent = RecentFieldValues()
    private let routes: RouteTemplater
    /// `options.knownMethods` as a list: comparing a few short (inline)
    /// Strings costs less than hashing one.
    private let knownMethods: [String]

    public init(options: SpanOptions = SpanOptions(), clock: ClockConversion, ids: some IDGenerator = RandomIDGenerator()) {
        self.options = options
        self.clock = clock
        self.ids = IDSource(ids)
        self.routes = RouteTemplater(patterns: options.routePatterns)
        self.knownMethods = options.knownMethods.sorted()
    }

    /// The span of one exchange.
    ///
    /// - Parameter closedAtNs: monotonic time the connection closed, when it
    ///   did before a complete response; the span then ends there instead of
    ///   at the request's last byte.
    ///
    /// Kind: CLIENT when the process connected, SERVER when it accepted. A
    /// connection whose role is still unknown is reported as SERVER: the
    /// connection layer infers the role from who sent the request line, so
    /// an unknown role reaching this point is rare, and a request seen on an
    /// inherited socket (nginx workers, systemd sockets) is usually one the
    /// process received.
    ///
    /// - Parameter identity: a client span's trace and span ids, fixed when
    ///   its request began (the linking stage), so that the server span of
    ///   the same request, which may end first, could take them as its parent.
    public func span(for exchange: Exchange, closedAtNs: UInt64? = nil, identity: SpanIdentity? = nil) -> SpanRecord {
        if let grpc = exchange.grpc {
            return rpcSpan(for: exchange, grpc: grpc, closedAtNs: closedAtNs, identity: identity)
        }
        let connection = exchange.connection
        let request = exchange.request
        let kind: SpanKind = connection.role == .client ? .client : .server
        let target = RequestTarget(request.target)
        var attributes: [Attribute] = []
        attributes.reserveCapacity(18)

        // Method and name. A method the capture could not decode (HTTP/2
        // after a mid-connection start) is left out, never guessed.
        let methodUnknown = exchange.undecoded.contains(.method)
        let isKnownMethod = knownMethods.contains(request.method)
        if !methodUnknown {
            attributes.append(Attribute("http.request.method", .string(isKnownMethod ? request.method : "_OTHER")))
            if !isKnownMethod {
                attributes.append(Attribute("http.request.method_original", .string(request.method)))
            }
        }
        let path = target.path.map(options.urlRedaction.path)
        let route = exchange.undecoded.contains(.target) ? nil : path.map { routes.route(forPath: $0) }
        let nameMethod = isKnownMethod && !methodUnknown ? request.method : "HTTP"
        let name = route.map { "\(nameMethod) \($0)" } ?? nameMethod

        // URL.
        let connectionScheme = connection.isTLS ? "https" : "http"
        let scheme = kind == .client ? (target.scheme ?? connectionScheme) : connectionScheme
        let query = target.query.flatMap(options.urlRedaction.query)
        attributes.append(Attribute("url.scheme", .string(scheme)))
        if let path { attributes.append(Attribute("url.path", .string(String(path)))) }
        if let query { attributes.append(Attribute("url.query", .string(query))) }
        if let route { attributes.append(Attribute("http.route", .string(route))) }

        // Server and client addresses: the server side names its client, the
        // client side the URL it asked for; then what every span says.
        let peerHost = connection.remote.map(recent.host(of:))
        let forwarded = kind == .server ? ForwardedHeaders(request.headers) : nil
        let server = serverAddress(kind: kind, forwarded: forwarded, target: target, headers: request.headers,
                                   scheme: scheme, connection: connection)
        if kind == .server {
            if let client = forwarded?.clientAddress.map(String.init) ?? peerHost {
                attributes.append(Attribute("client.address", .string(client)))
            }
        } else if let server {
            attributes.append(Attribute("url.full", .string(Self.fullURL(scheme: scheme, server: server, path: path, query: query))))
        }
        appendEndpointAttributes(server: server, peerHost: peerHost, protocolVersion: request.version,
                                 headers: request.headers, connection: connection, to: &attributes)

        // Response and status.
        if exchange.requestBodySize > 0 && !exchange.undecoded.contains(.requestBodySize) {
            attributes.append(Attribute("http.request.body.size", .int(Int64(exchange.requestBodySize))))
        }
        var statusCode = StatusCode.unset
        var errorType: String?
        if !exchange.hasResponse && exchange.undecoded.contains(.status) {
            // A response arrived but its status could not be decoded: no verdict.
            errorType = exchange.failure?.rawValue
        } else if let status = exchange.response?.status {
            // Only the status is read: binding the whole head would copy it.
            attributes.append(Attribute("http.response.status_code", .int(Int64(status))))
            if !exchange.undecoded.contains(.responseBodySize) {
                attributes.append(Attribute("http.response.body.size", .int(Int64(exchange.responseBodySize))))
            }
            if Self.isError(status: status, kind: kind) {
                errorType = String(status)
            } else if let failure = exchange.failure {
                errorType = failure.rawValue
            }
        } else {
            // The conventions' fallback id when we cannot say why.
            errorType = exchange.failure?.rawValue ?? "_OTHER"
        }
        if let errorType {
            statusCode = .error
            attributes.append(Attribute("error.type", .string(errorType)))
        }

        if !exchange.undecoded.isEmpty {
            attributes.append(Attribute("l7trace.undecoded", .stringArray(exchange.undecoded.names)))
        }

        return record(of: exchange, kind: kind, name: name, attributes: attributes, statusCode: statusCode,
                      closedAtNs: closedAtNs, identity: identity)
    }

    /// 5xx and uninterpretable codes always; 4xx only for the client, whose
    /// request failed, while the server answered it correctly.
    static func isError(status: Int, kind: SpanKind) -> Bool {
        if status < 100 || status > 599 || status >= 500 { return true }
        return status >= 400 && kind == .client
    }

    /// `scheme://host[:port]/path?query`; built from parsed parts, so
    /// credentials in the target never reach it. The port is left out when
    /// it is the scheme's default.
    static func fullURL(scheme: String, server: (host: String, port: Int?), path: Substring?, query: String?) -> String {
        var url = scheme + "://"
        url += HostAndPort(host: Substring(server.host), port: nil).hostForURL
        if let port = server.port, port != HostAndPort.defaultPort(scheme: scheme) { url += ":\(port)" }
        if let path { url += path }
        if let query { url += "?" + query }
        return url
    }
}

/// The ids a span gets when its request's head is parsed (see
/// `SpanBuilder.span(for:closedAtNs:identity:)`): fixed then, so that spans
/// that end first (the server's, a call made while serving) can name it.
public struct SpanIdentity: Sendable, Equatable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// A client span's parent, when the linker found one in its process.
    public var parentSpanID: SpanID?

    public init(traceID: TraceID, spanID: SpanID, parentSpanID: SpanID? = nil) {
        self.traceID = traceID; self.spanID = spanID; self.parentSpanID = parentSpanID
    }
}

/// The builder's id generator, shared by reference (see `SpanBuilder`).
final class IDSource {
    var generator: any IDGenerator
    init(_ generator: any IDGenerator) { self.generator = generator }
}
