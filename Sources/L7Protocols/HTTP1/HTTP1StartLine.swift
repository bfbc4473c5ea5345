import L7Basics

/// Recognises HTTP/1 start lines: `METHOD SP target SP HTTP/1.x` and
/// `HTTP/1.x SP 3DIGIT [SP reason]`. Detection and resynchronisation rely
/// on a *complete* line passing these checks, which binary data does not.
enum HTTP1StartLine {
    enum Kind: Sendable, Equatable { case request, response }

    /// How much to believe a request line's method.
    enum MethodRule {
        /// Only registered methods: used while scanning unknown bytes.
        case known
        /// Any upper-case token: used where a message must begin.
        case anyToken
    }

    static let knownMethods: [StaticString] = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "QUERY",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PURGE",
    ]
    static let maxMethodLength = 20

    /// Whether `prefix`, the first bytes of a line, may still begin a start
    /// line of an accepted kind (`nil` accepts both).
    static func isPlausiblePrefix(_ prefix: UnsafeRawBufferPointer, kind: Kind?, methods: MethodRule) -> Bool {
        if kind != .request, matchesPrefix(prefix, of: "HTTP/1.") { return true }
        if kind == .response { return false }
        switch methods {
        case .known:
            for m in knownMethods {
                let n = m.utf8CodeUnitCount
                let p = m.utf8Start
                var ok = true
                for i in 0..<min(prefix.count, n + 1) {
                    let expected = i < n ? p[i] : ASCII.space
                    if prefix[i] != expected { ok = false; break }
                }
                if ok { return true }
            }
            return false
        case .anyToken:
            for i in 0..<min(prefix.count, maxMethodLength + 1) {
                let b = prefix[i]
                if b == ASCII.space { return i > 0 }
                if !(ASCIICase.isUppercase(b) || (i > 0 && (b == UInt8(ascii: "-") || b == UInt8(ascii: "_")))) { return false }
            }
            return prefix.count <= maxMethodLength
        }
    }

    /// The kind of a complete start line (without CR/LF), or nil if it is not one.
    static func classify(_ line: UnsafeRawBufferPointer, kind: Kind?, methods: MethodRule) -> Kind? {
        if kind != .request, isStatusLine(line) { return .response }
        if kind != .response, isRequestLine(line, methods: methods) { return .request }
        return nil
    }

    static func isStatusLine(_ line: UnsafeRawBufferPointer) -> Bool {
        // HTTP/1.x SP DDD [SP reason]
        guard line.count >= 12, matchesPrefix(line, of: "HTTP/1."), ASCII.isDigit(line[7]), line[8] == ASCII.space,
              ASCII.isDigit(line[9]), ASCII.isDigit(line[10]), ASCII.isDigit(line[11]) else { return false }
        if line.count == 12 { return true }
        guard line[12] == ASCII.space else { return false }
        for i in 13..<line.count where isControl(line[i]) && line[i] != ASCII.tab { return false }
        return true
    }

    static func isRequestLine(_ line: UnsafeRawBufferPointer, methods: MethodRule) -> Bool {
        guard let sp1 = line.index(of: ASCII.space, from: 0), sp1 > 0,
              isPlausiblePrefix(line.slice(0..<(sp1 + 1)), kind: .request, methods: methods) else { return false }
        // The version is the last 8 bytes, after a single space.
        let n = line.count
        guard n >= sp1 + 1 + 1 + 9 else { return false }
        let version = line.slice((n - 8)..<n)
        guard line[n - 9] == ASCII.space, matchesPrefix(version, of: "HTTP/1."), ASCII.isDigit(version[7]) else { return false }
        let targetRange = (sp1 + 1)..<(n - 9)
        guard !targetRange.isEmpty else { return false }
        for i in targetRange where line[i] <= ASCII.space || line[i] == 0x7F { return false }
        return true
    }

    @inline(__always) static func isControl(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F }

    /// Whether the bytes present match the start of `ascii` (a shorter buffer matches).
    static func matchesPrefix(_ bytes: UnsafeRawBufferPointer, of ascii: StaticString) -> Bool {
        let p = ascii.utf8Start
        let n = min(bytes.count, ascii.utf8CodeUnitCount)
        for i in 0..<n where bytes[i] != p[i] { return false }
        return true
    }
}
