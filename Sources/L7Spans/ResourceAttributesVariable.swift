import L7Basics

/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,…` with percent-encoding. Any
/// malformed entry discards the whole variable, as the SDK specification
/// asks, so a half-parsed value never labels a service wrongly.
enum ResourceAttributesVariable {
    static let maxEntries = 128

    /// The pairs in order (a repeated key keeps its last value), or nil when
    /// the value is malformed.
    static func parse(_ value: String) -> [(key: String, value: String)]? {
        var result: [(key: String, value: String)] = []
        for rawEntry in value.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = ASCIIWhitespace.trimmingOWS(rawEntry)
            if entry.isEmpty { continue }
            guard let eq = entry.firstIndex(of: "="),
                  let key = decode(ASCIIWhitespace.trimmingOWS(entry[..<eq])), !key.isEmpty,
                  let decodedValue = decode(ASCIIWhitespace.trimmingOWS(entry[entry.index(after: eq)...]))
            else { return nil }
            if let existing = result.firstIndex(where: { $0.key == key }) {
                result[existing].value = decodedValue
            } else {
                result.append((key, decodedValue))
            }
            guard result.count <= maxEntries else { return nil }
        }
        return result
    }

    /// Percent-decoding into valid UTF-8 without control characters.
    static func decode(_ s: Substring) -> String? {
        guard let text = PercentDecoding.decodeUTF8(s), !ServiceNameGuard.hasControlCharacters(text) else { return nil }
        return text
    }
}

/// What a service name read from another process must look like to be used.
enum ServiceNameGuard {
    static let maxBytes = 256

    /// The trimmed name, or nil when it is empty, too long, or not printable text.
    static func accept(_ name: String?) -> String? {
        guard let name else { return nil }
        let trimmed = ASCIIWhitespace.trimmingOWS(name)
        guard !trimmed.isEmpty, trimmed.utf8.count <= maxBytes, !hasControlCharacters(trimmed) else { return nil }
        return String(trimmed)
    }

    /// C0, DEL, C1 controls, and U+FFFD (the trace of bytes that were not UTF-8).
    static func hasControlCharacters<S: StringProtocol>(_ s: S) -> Bool {
        s.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) || $0.value == 0xFFFD }
    }
}
