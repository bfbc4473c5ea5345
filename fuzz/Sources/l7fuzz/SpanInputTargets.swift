// The span-mapping inputs: header values and targets any peer sends, and the
// environment of any local process (a local user controls it; root parses it).
import L7Protocols
@testable import L7Spans

/// `traceparent` and `tracestate`. Input: the traceparent value, then
/// optionally a newline and the tracestate value.
enum TraceContextTarget {
    static func run(_ input: Input) {
        let text = input.text
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let value = String(parts[0])
        if let parent = TraceParent(value) {
            // A parsed value prints back as the (trimmed) input's first 55 bytes.
            let printed = "\(hex2(parent.version))-\(parent.traceID)-\(parent.parentID)-\(hex2(parent.flags))"
            let trimmed = value.trimmingOWS
            if !trimmed.hasPrefix(printed) { violated("traceparent \(trimmed.debugDescription) parsed as \(printed)") }
            if !parent.traceID.isValid || !parent.parentID.isValid { violated("an all-zero id was accepted") }
        }
        if parts.count == 2 {
            var headers = HTTPHeaders()
            for member in parts[1].split(separator: "\r", omittingEmptySubsequences: false) {
                headers.append(name: "tracestate", value: String(member))
            }
            let state = TraceState.validated(headers)
            if state.utf8.contains(where: { $0 < 0x20 || $0 > 0x7E }) {
                violated("tracestate kept a control or non-ASCII byte: \(state.debugDescription)")
            }
        }
    }

    static func hex2(_ v: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(v >> 4)], digits[Int(v & 15)]])
    }
}

/// Request targets and routes. Input: the target, then optionally a newline
/// and user route patterns separated by newlines.
enum RequestTargetTarget {
    static let guessing = RouteTemplater()

    static func run(_ input: Input) {
        var lines = input.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let target = RequestTarget(lines.removeFirst())
        guard let path = target.path else { return }
        if target.query?.contains("#") == true { violated("a query kept its fragment") }
        if path.contains("?") || path.contains("#") { violated("path \(path.debugDescription) kept a query or fragment") }
        let route = guessing.route(forPath: path)
        if route.isEmpty { violated("an empty route") }
        // Segments are split at 0x2F bytes (a Character split would not split "/" + a combining mark).
        func slashes<S: StringProtocol>(_ s: S) -> Int { s.utf8.reduce(0) { $0 + ($1 == 0x2F ? 1 : 0) } }
        if slashes(route) > max(1, slashes(path)) {
            violated("route \(route.debugDescription) has more segments than path \(path.debugDescription)")
        }
        // A guessed route is a fixed point: its segments are words or `*`.
        let again = guessing.route(forPath: route)
        if again != route { violated("route of \(path.debugDescription) is \(route.debugDescription), whose route is \(again.debugDescription)") }
        if !lines.isEmpty {
            _ = RouteTemplater(patterns: lines).route(forPath: path)
        }
        checkRedaction(path: path, query: target.query)
    }

    static let redaction = URLRedaction()

    /// Redaction keeps the URL's shape (same separators) and is a fixed point.
    static func checkRedaction(path: Substring, query: Substring?) {
        func count<S: StringProtocol>(_ s: S, _ bytes: [UInt8]) -> Int { s.utf8.reduce(0) { $0 + (bytes.contains($1) ? 1 : 0) } }
        let redactedPath = redaction.path(path)
        if count(redactedPath, [0x2F, 0x3B]) != count(path, [0x2F, 0x3B]) {
            violated("path \(path.debugDescription) redacted as \(redactedPath.debugDescription)")
        }
        if redaction.path(redactedPath) != redactedPath { violated("path redaction of \(path.debugDescription) is not a fixed point") }
        guard let query, let redacted = redaction.query(query) else { return }
        if count(redacted, [0x26, 0x3B]) != count(query, [0x26, 0x3B]) {
            violated("query \(query.debugDescription) redacted as \(redacted.debugDescription)")
        }
        if redaction.query(Substring(redacted)) != redacted { violated("query redaction of \(query.debugDescription) is not a fixed point") }
    }
}

/// `OTEL_RESOURCE_ATTRIBUTES` read from a process's environ block (the input).
enum ResourceAttributesTarget {
    static func run(_ input: Input) {
        let environment = ProcessEnvironment(environ: Array(input.bytes))
        let raw = environment.value("OTEL_RESOURCE_ATTRIBUTES") ?? input.text
        _ = ServiceNameGuard.accept(environment.value("OTEL_SERVICE_NAME"))
        guard let pairs = ResourceAttributesVariable.parse(raw) else { return }
        if pairs.count > ResourceAttributesVariable.maxEntries { violated("\(pairs.count) attributes kept") }
        var seen = Set<String>()
        for (key, value) in pairs {
            if key.isEmpty { violated("an empty key") }
            if !seen.insert(key).inserted { violated("key \(key.debugDescription) twice") }
            if ServiceNameGuard.hasControlCharacters(key) || ServiceNameGuard.hasControlCharacters(value) {
                violated("a control character in \(key.debugDescription)=\(value.debugDescription)")
            }
        }
        // Percent-encoding every pair again gives a value that parses to the same pairs.
        let encoded = pairs.map { "\(percentEncoded($0.key))=\(percentEncoded($0.value))" }.joined(separator: ",")
        guard let again = ResourceAttributesVariable.parse(encoded),
              again.map(\.key) == pairs.map(\.key), again.map(\.value) == pairs.map(\.value) else {
            violated("\(raw.debugDescription) re-encoded as \(encoded.debugDescription) parses differently")
        }
    }

    static func percentEncoded(_ s: String) -> String {
        let hex = Array("0123456789ABCDEF")
        var out = ""
        for b in s.utf8 {
            if (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += "%" + String([hex[Int(b >> 4)], hex[Int(b & 15)]])
            }
        }
        return out
    }
}

extension String {
    var trimmingOWS: Substring {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}
