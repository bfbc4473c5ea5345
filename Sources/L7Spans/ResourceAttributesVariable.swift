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
            let entry = trimSpaces(rawEntry)
            if entry.isEmpty { continue }
            guard let eq = entry.firstIndex(of: "="),
                  let key = decode(trimSpaces(entry[..<eq])), !key.isEmpty,
                  let decodedValue = decode(trimSpaces(entry[entry.index(after: eq)...]))
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
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let c = it.next() {
            if c == 0x25 {
                guard let h = it.next().flatMap(hexDigit), let l = it.next().flatMap(hexDigit) else { return nil }
                out.append(h << 4 | l)
            } else {
                out.append(c)
            }
        }
        guard let text = String(validating: out, as: UTF8.self), !ServiceNameGuard.hasControlCharacters(text) else { return nil }
        return text
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    static func trimSpaces(_ s: Substring) -> Substring { TraceState.trimOWS(s) }
}

/// What a service name read from another process must look like to be used.
enum ServiceNameGuard {
    static let maxBytes = 256

    /// The trimmed name, or nil when it is empty, too long, or not printable text.
    static func accept(_ name: String?) -> String? {
        guard let name else { return nil }
        let trimmed = TraceState.trimOWS(Substring(name))
        guard !trimmed.isEmpty, trimmed.utf8.count <= maxBytes, !hasControlCharacters(trimmed) else { return nil }
        return String(trimmed)
    }

    /// C0, DEL, C1 controls, and U+FFFD (the trace of bytes that were not UTF-8).
    static func hasControlCharacters<S: StringProtocol>(_ s: S) -> Bool {
        s.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) || $0.value == 0xFFFD }
    }
}
