import L7Basics
import L7Protocols

/// gRPC calls: one span per call (never an HTTP span as well), named
/// `package.Service/Method`, with the RPC conventions' attributes and the
/// client/server error rules of specs.md §7.
extension SpanBuilder {
    /// Whether a server reports `code` as an error (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
    /// INTERNAL, UNAVAILABLE, DATA_LOSS); a client reports every code but OK.
    static func isGRPCServerError(_ code: Int) -> Bool {
        switch code {
        case 2, 4, 12, 13, 14, 15: return true
        default: return false
        }
    }

    /// gRPC spans have no request-target of their own: parsed once, not per call.
    private static let noTarget = RequestTarget("")

    func rpcSpan(for exchange: Exchange, grpc: GRPCCallInfo, closedAtNs: UInt64?, identity: SpanIdentity?) -> SpanRecord {
        let connection = exchange.connection
        let kind: SpanKind = connection.role == .client ? .client : .server
        let conventions = options.rpcConventions
        var attributes: [Attribute] = []
        attributes.reserveCapacity(14)

        // Name: the path without its leading "/", when it has the gRPC shape.
        let pathKnown = !exchange.undecoded.contains(.target)
        let fullMethod = pathKnown ? Self.grpcMethod(path: exchange.request.target) : nil
        let qualifiedMethod = fullMethod.map { "\($0.service)/\($0.method)" }
        let name = qualifiedMethod ?? "grpc"

        if conventions != .stable { attributes.append(Attribute("rpc.system", .string("grpc"))) }
        if conventions != .legacy { attributes.append(Attribute("rpc.system.name", .string("grpc"))) }
        if let fullMethod {
            if conventions != .stable { attributes.append(Attribute("rpc.service", .string(fullMethod.service))) }
            attributes.append(Attribute("rpc.method", .string(conventions == .legacy
                ? fullMethod.method : qualifiedMethod ?? "")))
        } else if pathKnown && conventions != .legacy {
            attributes.append(Attribute("rpc.method", .string("_OTHER")))
            attributes.append(Attribute("rpc.method_original", .string(exchange.request.target)))
        }

        // Status.
        var statusCode = StatusCode.unset
        var statusMessage = ""
        if let code = grpc.statusCode {
            let codeName = GRPCStatus.name(code) ?? String(code)
            if conventions != .stable { attributes.append(Attribute("rpc.grpc.status_code", .int(Int64(code)))) }
            if conventions != .legacy { attributes.append(Attribute("rpc.status_code", .string(codeName))) }
            let isError = kind == .client ? code != 0 : Self.isGRPCServerError(code)
            if isError {
                statusCode = .error
                statusMessage = grpc.statusMessage ?? ""
                attributes.append(Attribute("error.type", .string(codeName)))
            }
        }

        // Addresses: :authority, else the socket. No protocol version: gRPC is HTTP/2.
        let headers = exchange.request.headers
        let server = serverAddress(kind: kind, forwarded: kind == .server ? ForwardedHeaders(headers) : nil,
                                   target: Self.noTarget, headers: headers, scheme: connection.isTLS ? "https" : "http",
                                   connection: connection)
        appendEndpointAttributes(server: server, peerHost: connection.remote.map(recent.host(of:)), protocolVersion: "",
                                 headers: headers, connection: connection, to: &attributes)
        if let n = grpc.requestMessages { attributes.append(Attribute("l7trace.grpc.request.message_count", .int(Int64(n)))) }
        if let n = grpc.responseMessages { attributes.append(Attribute("l7trace.grpc.response.message_count", .int(Int64(n)))) }
        if let code = exchange.streamErrorCode {
            attributes.append(Attribute("http2.stream.error_code", .string(HTTP2ErrorCode.name(code))))
        }
        if !exchange.undecoded.isEmpty {
            attributes.append(Attribute("l7trace.undecoded", .stringArray(exchange.undecoded.names)))
        }

        return record(of: exchange, kind: kind, name: name, attributes: attributes, statusCode: statusCode,
                      statusMessage: statusMessage, closedAtNs: closedAtNs, identity: identity)
    }

    /// `/package.Service/Method` → (`package.Service`, `Method`); nil for any other shape.
    static func grpcMethod(path: String) -> (service: String, method: String)? {
        // ASCII paths (all real ones) are split on bytes; others by Characters, as before.
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        var path = path
        switch path.withUTF8(asciiGRPCMethod) {
        case .method(let service, let method): return (service, method)
        case .notGRPC: return nil
        case .notASCII: break
        }
        guard path.hasPrefix("/") else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    private enum ASCIIPathSplit {
        case method(service: String, method: String)
        case notGRPC
        /// Split by Characters instead (a combining mark may follow a "/").
        case notASCII
    }

    /// `grpcMethod` on the bytes of a path that starts with "/".
    private static func asciiGRPCMethod(_ bytes: UnsafeBufferPointer<UInt8>) -> ASCIIPathSplit {
        let slash = UInt8(ascii: "/")
        var second = 0
        var slashes = 0
        for i in 1..<bytes.count {
            let b = bytes[i]
            if b >= 0x80 { return .notASCII }
            if b == slash {
                slashes += 1
                if second == 0 { second = i }
            }
        }
        guard slashes == 1, second > 1, second + 1 < bytes.count else { return .notGRPC }
        return .method(service: String(decoding: UnsafeBufferPointer(rebasing: bytes[1..<second]), as: UTF8.self),
                       method: String(decoding: UnsafeBufferPointer(rebasing: bytes[(second + 1)...]), as: UTF8.self))
    }
}
