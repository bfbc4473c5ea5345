import L7Basics

/// How exchanges become spans; built once from flags and environment.
public struct SpanOptions: Sendable {
    /// The HTTP methods of RFC 9110 and RFC 5789 that the conventions know.
    public static let defaultKnownMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ]

    /// Route templates such as `/users/{id}/orders`; the first that matches
    /// a path names it. See `RouteTemplater`.
    public var routePatterns: [String]
    /// Methods reported as themselves; any other is `_OTHER`. Case-sensitive.
    public var knownMethods: Set<String>
    /// Which RPC attribute names gRPC spans carry (`OTEL_SEMCONV_STABILITY_OPT_IN`).
    public var rpcConventions: RPCConventions
    /// What of a URL's query and matrix parameters leaves the host.
    public var urlRedaction: URLRedaction

    public init(routePatterns: [String] = [], knownMethods: Set<String> = SpanOptions.defaultKnownMethods,
                rpcConventions: RPCConventions = .legacy, urlRedaction: URLRedaction = URLRedaction()) {
        self.routePatterns = routePatterns
        self.knownMethods = knownMethods
        self.rpcConventions = rpcConventions
        self.urlRedaction = urlRedaction
    }

    /// The RPC conventions `OTEL_SEMCONV_STABILITY_OPT_IN` asks for: `rpc`
    /// the release-candidate names, `rpc/dup` both; otherwise the v1.37 names
    /// most backends read today.
    public static func rpcConventions(environmentValue: String?) -> RPCConventions {
        let tokens = (environmentValue ?? "").split(separator: ",").map { ASCIIWhitespace.trimmingOWS($0) }
        if tokens.contains("rpc/dup") { return .both }
        if tokens.contains("rpc") { return .stable }
        return .legacy
    }

    /// The methods of `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`
    /// (comma-separated; it replaces the default list). Unset, or a value
    /// with no method in it, keeps the default list.
    public static func knownMethods(environmentValue: String?) -> Set<String> {
        guard let value = environmentValue else { return defaultKnownMethods }
        let methods = value.split(separator: ",").map { ASCIIWhitespace.trimmingOWS($0) }.filter { !$0.isEmpty }.map(String.init)
        return methods.isEmpty ? defaultKnownMethods : Set(methods)
    }
}

/// Attribute names of gRPC spans.
public enum RPCConventions: Sendable, Equatable {
    /// v1.37: `rpc.system`, `rpc.service`, `rpc.method` (the method alone), `rpc.grpc.status_code` (int).
    case legacy
    /// Release candidate: `rpc.system.name`, `rpc.method` (`package.Service/Method`), `rpc.status_code` (code name).
    case stable
    /// Both; `rpc.method` takes the release-candidate value, the one key they share.
    case both
}
