import L7Events
import L7Protocols

/// What HTTP and RPC spans share, written once: the server's address by the
/// span's side, the peer, the user agent, the times and the trace context.
extension SpanBuilder {
    typealias ServerAddress = (host: String, port: Int?)

    /// The server a span names: the server side reads forwarding fields,
    /// the target and Host before its own socket; the client side the
    /// target and Host before the socket it connected to.
    func serverAddress(kind: SpanKind, forwarded: ForwardedHeaders?, target: RequestTarget, headers: HTTPHeaders,
                       scheme: String, connection: ConnectionInfo) -> ServerAddress? {
        let host = recent.hostField(headers)
        return kind == .server
            ? Self.serverSideAddress(forwarded: forwarded, target: target, host: host, scheme: scheme, local: connection.local)
            : Self.clientSideAddress(target: target, host: host, scheme: scheme, remote: connection.remote)
    }

    /// `server.address`/`server.port`, `network.peer.address`/`.port`,
    /// `network.protocol.version` (when not empty) and `user_agent.original`,
    /// in that order. `peerHost`: the remote address's text.
    func appendEndpointAttributes(server: ServerAddress?, peerHost: String?, protocolVersion: String, headers: HTTPHeaders,
                                  connection: ConnectionInfo, to attributes: inout [Attribute]) {
        if let server {
            attributes.append(Attribute("server.address", .string(server.host)))
            if let port = server.port { attributes.append(Attribute("server.port", .int(Int64(port)))) }
        }
        if let peer = connection.remote, let peerHost {
            attributes.append(Attribute("network.peer.address", .string(peerHost)))
            attributes.append(Attribute("network.peer.port", .int(Int64(peer.port))))
        }
        if !protocolVersion.isEmpty {
            attributes.append(Attribute("network.protocol.version", .string(protocolVersion)))
        }
        if let userAgent = recent.userAgent(headers) {
            attributes.append(Attribute("user_agent.original", .string(userAgent)))
        }
    }

    /// The finished span: its times on the wall clock, then its ids, parent
    /// and flags from the request's trace context.
    func record(of exchange: Exchange, kind: SpanKind, name: String, attributes: [Attribute], statusCode: StatusCode,
                statusMessage: String = "", closedAtNs: UInt64?, identity: SpanIdentity? = nil) -> SpanRecord {
        let (startNs, endNs) = Self.times(exchange, kind: kind, closedAtNs: closedAtNs)
        var record = SpanRecord(traceID: TraceID(high: 0, low: 0), spanID: SpanID(0), parentSpanID: nil, name: name,
                                kind: kind, startUnixNano: clock.unixNanos(fromMonotonic: startNs),
                                endUnixNano: clock.unixNanos(fromMonotonic: endNs), attributes: attributes,
                                statusCode: statusCode, statusMessage: statusMessage, flags: 0,
                                pid: exchange.connection.pid)
        applyTraceContext(to: &record, headers: exchange.request.headers, identity: identity)
        return record
    }

    /// Server: from the exit of the read that brought the first request byte
    /// to the entry of the last response write. Client: from the entry of the
    /// first request write to the exit of the read that completed the response.
    static func times(_ exchange: Exchange, kind: SpanKind, closedAtNs: UInt64?) -> (start: UInt64, end: UInt64) {
        let startNs = kind == .server ? exchange.requestTiming.firstExitNs : exchange.requestTiming.firstEnterNs
        // A server's span ends when it hands its last response bytes to the
        // kernel (the write's entry): on loopback the client's read may return
        // before that write does, and the server span must lie inside its client's.
        let responseEndNs = kind == .server ? exchange.responseTiming?.lastEnterNs : exchange.responseTiming?.lastExitNs
        var endNs = responseEndNs ?? exchange.requestTiming.lastExitNs
        if let closedAtNs, !exchange.hasResponse || exchange.failure != nil { endNs = max(endNs, closedAtNs) }
        return (startNs, max(endNs, startNs))
    }

    /// Ids, parent and flags. OTLP flags: W3C trace flags in the low byte,
    /// 0x100 "whether the parent is remote is known", 0x200 "it is remote".
    ///
    /// `identity`: ids fixed when the request began (the linking stage, which
    /// read the same `traceparent`): a client span takes all of it; a server
    /// span its id, and its trace when no header names one.
    func applyTraceContext(to record: inout SpanRecord, headers: HTTPHeaders, identity: SpanIdentity? = nil) {
        if let identity, record.kind == .client {
            record.traceID = identity.traceID
            record.spanID = identity.spanID
            record.parentSpanID = identity.parentSpanID
            if let parent = TraceParent(headers: headers) {
                record.traceState = TraceState.validated(headers)
                record.flags = UInt32(parent.flags) | 0x100
            } else {
                record.flags = 0x101  // sampled; a parent, if any, is in this process
            }
            return
        }
        guard let parent = TraceParent(headers: headers) else {
            record.traceID = identity?.traceID ?? ids.generator.nextTraceID()
            record.spanID = identity?.spanID ?? ids.generator.nextSpanID()
            record.flags = 0x101  // sampled, root
            return
        }
        record.traceID = parent.traceID
        record.traceState = TraceState.validated(headers)
        if record.kind == .server {
            // The caller's span is our parent.
            record.spanID = identity?.spanID ?? ids.generator.nextSpanID()
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
}
