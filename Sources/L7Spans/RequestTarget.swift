/// The parts of an HTTP request-target that spans report.
///
/// Origin-form (`/p?q`) is what servers usually see; absolute-form
/// (`http://host:port/p?q`) is what clients send to proxies and must yield
/// the same path and query, plus the authority. Authority-form (CONNECT) and
/// asterisk-form (`OPTIONS *`) carry no path.
struct RequestTarget: Equatable {
    /// Lowercased scheme of an absolute-form target.
    var scheme: String? = nil
    /// The authority of an absolute- or authority-form target, credentials removed.
    var authority: HostAndPort? = nil
    /// Path without query or fragment; nil for authority- and asterisk-form.
    var path: Substring? = nil
    /// What follows `?`, without the fragment; nil when there is no `?`.
    var query: Substring? = nil

    init(_ target: String) {
        let t = Substring(target)
        if t.utf8.first == 0x2F {
            self.init(originForm: t)
        } else if t == "*" {
            self.init(scheme: nil, authority: nil, path: nil, query: nil)
        } else if let schemeEnd = t.firstRange(of: "://"), Self.isScheme(t[..<schemeEnd.lowerBound]) {
            let afterScheme = t[schemeEnd.upperBound...]
            let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
            var authority = afterScheme[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
            var rest = RequestTarget(originForm: afterScheme[authorityEnd...])
            if rest.path?.isEmpty ?? true { rest.path = "/" }
            self.init(scheme: t[..<schemeEnd.lowerBound].lowercased(), authority: HostAndPort(authority),
                      path: rest.path, query: rest.query)
        } else {
            // authority-form, e.g. `CONNECT example.com:443`
            self.init(scheme: nil, authority: HostAndPort(t), path: nil, query: nil)
        }
    }

    init(scheme: String?, authority: HostAndPort?, path: Substring?, query: Substring?) {
        self.scheme = scheme; self.authority = authority; self.path = path; self.query = query
    }

    /// Fields are assigned in place: delegating to the memberwise init made
    /// and copied a whole temporary target (this runs for every span).
    private init(originForm t: Substring) {
        // One pass over the bytes finds `?` and `#`; the common target has
        // neither and is taken whole, without slicing.
        var copy = t
        let (question, hash) = copy.withUTF8 { b -> (Int?, Int?) in
            var question: Int?
            for i in 0..<b.count {
                if b[i] == 0x23 { return (question, i) }
                if b[i] == 0x3F && question == nil { question = i }
            }
            return (question, nil)
        }
        if question == nil && hash == nil {
            path = t
            return
        }
        let u = t.utf8
        let end = hash.map { u.index(u.startIndex, offsetBy: $0) } ?? t.endIndex
        if let question {
            let q = u.index(u.startIndex, offsetBy: question)
            path = t[..<q]
            query = t[u.index(after: q)..<end]
        } else {
            path = t[..<end]
        }
    }

    /// RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    private static func isScheme(_ s: Substring) -> Bool {
        guard let first = s.utf8.first, (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7A else { return false }
        return s.utf8.allSatisfy { c in
            let l = c | 0x20
            return (l >= 0x61 && l <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2B || c == 0x2D || c == 0x2E
        }
    }
}
