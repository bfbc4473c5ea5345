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
    private let ids: IDSource
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
    public func span(for exchange: Exchange, closedAtNs: UInt64? = nil) -> SpanRecord {
        if let grpc = exchange.grpc { return rpcSpan(for: exchange, grpc: grpc, closedAtNs: closedAtNs) }
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

        // Server and client addresses.
        let peerHost = connection.remote.map(recent.host(of:))
        let server: (host: String, port: Int?)?
        if kind == .server {
            let forwarded = ForwardedHeaders(request.headers)
            server = Self.serverSideAddress(forwarded: forwarded, target: target, host: recent.hostField(request.headers),
                                            scheme: scheme, local: connection.local)
            if let client = forwarded?.clientAddress.map(String.init) ?? peerHost {
                attributes.append(Attribute("client.address", .string(client)))
            }
        } else {
            server = Self.clientSideAddress(target: target, host: recent.hostField(request.headers), scheme: scheme,
                                            remote: connection.remote)
            if let server {
                attributes.append(Attribute("url.full", .string(Self.fullURL(scheme: scheme, server: server, path: path, query: query))))
            }
        }
        if let server {
            attributes.append(Attribute("server.address", .string(server.host)))
            if let port = server.port { attributes.append(Attribute("server.port", .int(Int64(port)))) }
        }
        if let peer = connection.remote, let peerHost {
            attributes.append(Attribute("network.peer.address", .string(peerHost)))
            attributes.append(Attribute("network.peer.port", .int(Int64(peer.port))))
        }
        if !request.version.isEmpty {
            attributes.append(Attribute("network.protocol.version", .string(request.version)))
        }
        if let userAgent = recent.userAgent(request.headers) {
            attributes.append(Attribute("user_agent.original", .string(userAgent)))
        }

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

        // Times.
        let (startNs, endNs) = Self.times(exchange, kind: kind, closedAtNs: closedAtNs)

        // Trace context.
        var record = SpanRecord(traceID: TraceID(high: 0, low: 0), spanID: SpanID(0), parentSpanID: nil, name: name,
                                kind: kind, startUnixNano: clock.unixNanos(fromMonotonic: startNs),
                                endUnixNano: clock.unixNanos(fromMonotonic: endNs), attributes: attributes,
                                statusCode: statusCode, flags: 0, pid: connection.pid)
        applyTraceContext(to: &record, headers: request.headers)
        return record
    }

    /// Server: from the exit of the read that brought the first request byte
    /// to the exit of the last response write. Client: from the entry of the
    /// first request write to the exit of the read that completed the response.
    static func times(_ exchange: Exchange, kind: SpanKind, closedAtNs: UInt64?) -> (start: UInt64, end: UInt64) {
        let startNs = kind == .server ? exchange.requestTiming.firstExitNs : exchange.requestTiming.firstEnterNs
        var endNs = exchange.responseTiming?.lastExitNs ?? exchange.requestTiming.lastExitNs
        if let closedAtNs, !exchange.hasResponse || exchange.failure != nil { endNs = max(endNs, closedAtNs) }
        return (startNs, max(endNs, startNs))
    }

    /// Ids, parent and flags. OTLP flags: W3C trace flags in the low byte,
    /// 0x100 "whether the parent is remote is known", 0x200 "it is remote".
    func applyTraceContext(to record: inout SpanRecord, headers: HTTPHeaders) {
        guard let parent = TraceParent(headers: headers) else {
            record.traceID = ids.generator.nextTraceID()
            record.spanID = ids.generator.nextSpanID()
            record.flags = 0x101  // sampled, root
            return
        }
        record.traceID = parent.traceID
        record.traceState = TraceState.validated(headers)
        if record.kind == .server {
            // The caller's span is our parent.
            record.spanID = ids.generator.nextSpanID()
            record.parentSpanID = parent.parentID
            record.flags = UInt32(parent.flags) | 0x300
        } else {
            // The header we saw leave names the span the remote server will
            // call its parent: that span is this one.
            record.spanID = parent.parentID
            record.parentSpanID = nil
            record.flags = UInt32(parent.flags) | 0x100
        }
    }

    /// 5xx and uninterpretable codes always; 4xx only for the client, whose
    /// request failed, while the server answered it correctly.
    static func isError(status: Int, kind: SpanKind) -> Bool {
        if status < 100 || status > 599 || status >= 500 { return true }
        return status >= 400 && kind == .client
    }

    /// Forwarded/X-Forwarded-Host, then an absolute-form target, then Host,
    /// then the socket the request arrived on.
    static func serverSideAddress(forwarded: ForwardedHeaders?, target: RequestTarget, host: HostAndPort?,
                                  scheme: String, local: SocketAddress?) -> (host: String, port: Int?)? {
        if let h = forwarded?.host {
            return (String(h.host), h.port ?? HostAndPort.defaultPort(scheme: forwarded?.proto ?? scheme) ?? local.map { Int($0.port) })
        }
        if let a = target.authority {
            return (String(a.host), a.port ?? HostAndPort.defaultPort(scheme: target.scheme ?? scheme))
        }
        // HTTP/2's :authority, then Host.
        if let h = host {
            return (String(h.host), h.port ?? local.map { Int($0.port) })
        }
        return local.map { ($0.host, Int($0.port)) }
    }

    /// An absolute-form target (requests through a proxy), then Host, then
    /// the socket the process connected to.
    static func clientSideAddress(target: RequestTarget, host: HostAndPort?, scheme: String,
                                  remote: SocketAddress?) -> (host: String, port: Int?)? {
        if let a = target.authority {
            return (String(a.host), a.port ?? HostAndPort.defaultPort(scheme: scheme))
        }
        if let h = host {
            return (String(h.host), h.port ?? remote.map { Int($0.port) } ?? HostAndPort.defaultPort(scheme: scheme))
        }
        return remote.map { ($0.host, Int($0.port)) }
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

/// The builder's id generator, shared by reference (see `SpanBuilder`).
final class IDSource {
    var generator: any IDGenerator
    init(_ generator: any IDGenerator) { self.generator = generator }
}
