/// Whether a service name matches a `--service`/`--exclude-service` glob:
/// `*` any run of characters, `?` one character, `[abc]`, `[a-z]`,
/// `[!a-z]`/`[^a-z]` one character of (or not of) a set, `\x` a literal `x`.
/// An unclosed `[` is a literal. Matching is case-sensitive, on Unicode
/// scalars, and linear-time apart from backtracking to the last `*`.
public func serviceMatches(_ name: String, glob: String) -> Bool {
    let s = Array(name.unicodeScalars), p = Array(glob.unicodeScalars)
    var si = 0, pi = 0
    var starPattern = -1, starName = 0
    while si < s.count {
        if pi < p.count {
            switch p[pi] {
            case "*":
                starPattern = pi; starName = si; pi += 1
                continue
            case "?":
                si += 1; pi += 1
                continue
            case "[":
                if let (matched, next) = GlobClass.match(p, from: pi, scalar: s[si]) {
                    if matched { si += 1; pi = next; continue }
                } else if s[si] == "[" {
                    si += 1; pi += 1; continue
                }
            case "\\" where pi + 1 < p.count:
                if s[si] == p[pi + 1] { si += 1; pi += 2; continue }
            default:
                if s[si] == p[pi] { si += 1; pi += 1; continue }
            }
        }
        // Mismatch: let the last `*` swallow one more character.
        guard starPattern >= 0 else { return false }
        starName += 1
        si = starName
        pi = starPattern + 1
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
}

enum GlobClass {
    /// Matches `scalar` against the class starting at `p[start] == "["`.
    /// Returns nil when the class is not closed (then `[` is literal).
    static func match(_ p: [Unicode.Scalar], from start: Int, scalar: Unicode.Scalar) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && (p[i] == "!" || p[i] == "^") { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.count {
            var lo = p[i]
            if lo == "]" && !first { return (matched != negate, i + 1) }
            first = false
            if lo == "\\" && i + 1 < p.count { i += 1; lo = p[i] }
            if i + 2 < p.count && p[i + 1] == "-" && p[i + 2] != "]" {
                var hi = p[i + 2]
                var consumed = 3
                if hi == "\\" && i + 3 < p.count { hi = p[i + 3]; consumed = 4 }
                if lo <= scalar && scalar <= hi { matched = true }
                i += consumed
            } else {
                if lo == scalar { matched = true }
                i += 1
            }
        }
        return nil
    }
}
