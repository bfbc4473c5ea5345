import L7Basics

/// Turns a request path into a low-cardinality route for span names and
/// `http.route`.
///
/// A passive tracer does not know the application's routes, so it guesses:
/// path segments that look like identifiers become `*`. User patterns such as
/// `/users/{id}/orders` are tried first, in the order given, and a path they
/// match gets the pattern itself as its route.
///
/// A segment becomes `*` when it:
/// - has digits and no letters (`42`, `2024-01-15`, `1.5`);
/// - is a UUID (`8-4-4-4-12` hex, any case);
/// - is 8 or more hex digits with at least one digit (hashes, object ids);
/// - contains `@` (e-mail addresses, which are also personal data);
/// - is ID-like: 8 or more characters of `[A-Za-z0-9._~=+-]` with letters and
///   digits, of which digits make up a quarter or more (`user12345`,
///   `a1b2c3d4`, `ORD-2024-000123`), or 16 or more characters mixing digits,
///   upper and lower case (base64 tokens);
/// - is longer than 64 bytes.
/// Words with a few digits (`v1`, `oauth2`, `base64encode`) stay.
public struct RouteTemplater: Sendable {
    private let patterns: [Pattern]

    public init(patterns: [String] = []) {
        self.patterns = patterns.compactMap(Pattern.init)
    }

    /// The route of a path (the part of the target before `?`).
    public func route(forPath path: Substring) -> String {
        if path.isEmpty { return "/" }
        if !patterns.isEmpty {
            let segments = Self.segments(path)
            for p in patterns where p.matches(segments) { return p.template }
        }
        return Self.templated(path)
    }

    /// The path with each identifier segment replaced by `*`, in one pass
    /// over its bytes into one String (no list of segments: splitting and
    /// appending piece by piece took ~5,500 instructions a span, a third of
    /// building it, measured by LinkBench under callgrind).
    static func templated(_ path: Substring) -> String {
        var path = path
        return path.withUTF8 { bytes in
            // Common case: nothing to replace, the path unchanged.
            guard let first = firstIdentifier(bytes, from: 0) else { return String(decoding: bytes, as: UTF8.self) }
            return String(unsafeUninitializedCapacity: bytes.count) { out in
                var written = 0
                var copied = 0  // bytes of the path up to here are in `out`
                var next: Range<Int>? = first
                while let segment = next {
                    for i in copied..<segment.lowerBound { out[written] = bytes[i]; written += 1 }
                    out[written] = UInt8(ascii: "*"); written += 1
                    copied = segment.upperBound
                    next = firstIdentifier(bytes, from: segment.upperBound)
                }
                for i in copied..<bytes.count { out[written] = bytes[i]; written += 1 }
                return written
            }
        }
    }

    /// The first `/`-separated segment at or after `start` that is an identifier.
    private static func firstIdentifier(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Range<Int>? {
        var start = start
        var i = start
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == 0x2F {
                if i > start, isIdentifier(UnsafeBufferPointer(rebasing: bytes[start..<i])) { return start..<i }
                start = i + 1
            }
            i += 1
        }
        return nil
    }

    public func route(forPath path: String) -> String { route(forPath: Substring(path)) }

    /// Segments for pattern matching: empty segments (leading `/`, a trailing
    /// `/`, `//`) are ignored so `/a/1/` matches `/a/{id}`.
    static func segments(_ path: Substring) -> [Substring] { path.splitBytes(0x2F).filter { !$0.isEmpty } }

    static func isIdentifier(_ s: Substring) -> Bool {
        var s = s
        return s.withUTF8 { isIdentifier($0) }
    }

    static func isIdentifier(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = u.count
        if n == 0 { return false }
        if n > 64 { return true }
        var digits = 0, lower = 0, upper = 0, hexLetters = 0, other = 0, idPunct = 0, at = false
        for c in u {
            switch c {
            case 0x30...0x39: digits += 1
            case 0x61...0x7A: lower += 1; if c <= 0x66 { hexLetters += 1 }
            case 0x41...0x5A: upper += 1; if c <= 0x46 { hexLetters += 1 }
            case 0x2E, 0x5F, 0x7E, 0x3D, 0x2B, 0x2D: idPunct += 1
            case 0x40: at = true
            default: other += 1
            }
        }
        let letters = lower + upper
        if at { return true }
        if digits > 0 && letters == 0 { return true }
        if isUUID(u) { return true }
        if n >= 8 && digits > 0 && digits + hexLetters == n { return true }
        guard n >= 8, other == 0, digits > 0, letters > 0 else { return false }
        if digits * 4 >= n { return true }
        return n >= 16 && lower > 0 && upper > 0
    }

    private static func isUUID(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != 0x2D { return false }
            } else if Hex.digitValue(c) == nil {
                return false
            }
        }
        return true
    }

    /// A user route: literal segments, `{name}` or `*` for exactly one
    /// segment, and a final `**` or `{name...}` for any remainder.
    struct Pattern: Sendable {
        enum Segment: Sendable, Equatable { case literal(String), one, rest }
        let template: String
        let segments: [Segment]

        init?(_ template: String) {
            guard template.first == "/" else { return nil }
            var segments: [Segment] = []
            let parts = RouteTemplater.segments(Substring(template))
            for (i, part) in parts.enumerated() {
                if part == "**" || (part.hasPrefix("{") && part.hasSuffix("...}")) {
                    guard i == parts.count - 1 else { return nil }
                    segments.append(.rest)
                } else if part == "*" || (part.hasPrefix("{") && part.hasSuffix("}")) {
                    segments.append(.one)
                } else {
                    segments.append(.literal(String(part)))
                }
            }
            self.template = template
            self.segments = segments
        }

        func matches(_ path: [Substring]) -> Bool {
            var i = 0
            for segment in segments {
                switch segment {
                case .rest: return true
                case .one: guard i < path.count else { return false }
                case .literal(let l): guard i < path.count, path[i] == l else { return false }
                }
                i += 1
            }
            return i == path.count
        }
    }
}
