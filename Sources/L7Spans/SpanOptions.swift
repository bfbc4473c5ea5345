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

    public init(routePatterns: [String] = [], knownMethods: Set<String> = SpanOptions.defaultKnownMethods) {
        self.routePatterns = routePatterns
        self.knownMethods = knownMethods
    }

    /// The methods of `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`
    /// (comma-separated; it replaces the default list). Unset, or a value
    /// with no method in it, keeps the default list.
    public static func knownMethods(environmentValue: String?) -> Set<String> {
        guard let value = environmentValue else { return defaultKnownMethods }
        let methods = value.split(separator: ",").map { TraceState.trimOWS($0) }.filter { !$0.isEmpty }.map(String.init)
        return methods.isEmpty ? defaultKnownMethods : Set(methods)
    }
}
