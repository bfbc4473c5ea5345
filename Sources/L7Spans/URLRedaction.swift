import L7Basics

/// What of a request's URL may leave the host: the values of parameters
/// that look like credentials become `REDACTED`, in the query (`a=1&b=2`,
/// `a=1;b=2`) and in the path's matrix parameters (`/app;jsessionid=…`).
///
/// The tracer sees every application on the host, including ones whose
/// owners never chose what goes into a URL, so names are matched broadly:
/// over-redacting a look-alike (`author`, `sortKey`) is the safe mistake.
/// A parameter is sensitive when its name, percent-decoded and lowercased,
/// - is one of `extraNames` (`--redact-query-param`), or of the semantic
///   conventions' list (`AWSAccessKeyId`, `Signature`, `sig`, …), or is `code`
///   (OAuth's authorization code);
/// - has a word (split at non-alphanumerics and at camelCase) in `sensitiveWords`;
/// - contains one of `sensitiveFragments` (`accesstoken`, `phpsessid`), or ends in `key`.
/// A parameter without `=` that looks like a bare secret (16 or more
/// characters, letters and digits) is replaced whole.
public struct URLRedaction: Sendable {
    public enum QueryPolicy: Sendable, Equatable {
        /// Values of sensitive parameters become `REDACTED` (the default).
        case redactSensitive
        /// `url.query` is left out, and so is the query of `url.full`.
        case omit
    }

    public static let redacted = "REDACTED"
    /// The semantic conventions' list, matched whole.
    public static let conventionNames: Set<String> = [
        "awsaccesskeyid", "signature", "sig", "x-goog-signature", "x-amz-signature", "x-amz-credential",
        "x-amz-security-token", "code",
    ]
    /// Words that make a name sensitive wherever they stand in it (`access_token`, `apiKey`, `X-Auth`).
    public static let sensitiveWords: Set<String> = [
        "password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "key", "apikey", "auth",
        "authorization", "credential", "credentials", "cred", "creds", "signature", "sig", "session", "sessionid",
        "sessid", "sid", "jwt", "otp", "private", "privatekey", "saml", "ticket", "bearer", "cookie",
    ]
    /// Fragments found in names written without separators (`accesstoken`, `jsessionid`, `clientsecret`).
    public static let sensitiveFragments: [String] = [
        "password", "passwd", "secret", "token", "apikey", "credential", "signature", "session", "sessid", "jwt",
        "auth",
    ]

    public var policy: QueryPolicy
    /// Lowercased, percent-decoded names added by the user, matched whole.
    public var extraNames: Set<String>

    public init(policy: QueryPolicy = .redactSensitive, extraNames: some Sequence<String> = [String]()) {
        self.policy = policy
        self.extraNames = Set(extraNames.map { $0.lowercased() })
    }

    /// Names added to the redacted ones, comma-separated.
    public static let extraNamesVariable = "OTEL_INSTRUMENTATION_HTTP_REDACT_QUERY_PARAMETERS"
    /// `true` leaves queries out.
    public static let omitQueryVariable = "OTEL_INSTRUMENTATION_HTTP_OMIT_URL_QUERY"

    /// The flags' choices added to the environment's.
    public init(environment: [String: String], extraNames: [String], omitQuery: Bool) {
        let omit = omitQuery || environment[Self.omitQueryVariable].map { ASCIIWhitespace.trimmingOWS($0).lowercased() == "true" } == true
        self.init(policy: omit ? .omit : .redactSensitive,
                  extraNames: extraNames + Self.names(fromList: environment[Self.extraNamesVariable]))
    }

    /// Names from a comma-separated list (a flag's or a variable's value); blanks are skipped.
    public static func names(fromList value: String?) -> [String] {
        guard let value else { return [] }
        return value.split(separator: ",").map { String(ASCIIWhitespace.trimmingOWS($0)) }.filter { !$0.isEmpty }
    }

    // MARK: - Query and path

    /// The query as it may leave the host; nil when the policy leaves it out.
    public func query(_ query: Substring) -> String? {
        if policy == .omit { return nil }
        return redactParameters(query, separators: [0x26, 0x3B])  // & ;
    }

    /// The path with the values of sensitive matrix parameters redacted.
    public func path(_ path: Substring) -> Substring {
        guard path.firstIndex(ofByte: 0x3B) != nil else { return path }  // no `;`: nothing to look at
        let segments = path.splitBytes(0x2F)
        var changed = false
        let redactedSegments = segments.map { segment -> String in
            guard let semicolon = segment.firstIndex(ofByte: 0x3B) else { return String(segment) }
            let parameters = segment[segment.index(after: semicolon)...]
            let redacted = redactParameters(parameters, separators: [0x3B])
            if redacted != parameters { changed = true }
            return segment[...semicolon] + redacted
        }
        return changed ? Substring(redactedSegments.joined(separator: "/")) : path
    }

    private func redactParameters(_ text: Substring, separators: [UInt8]) -> String {
        var result = ""
        var changed = false
        var start = text.startIndex
        var index = text.startIndex
        let utf8 = text.utf8
        func flush(upTo end: String.Index, separator: Substring) {
            let parameter = text[start..<end]
            if let replacement = redactedParameter(parameter) {
                if !changed { result = String(text[text.startIndex..<start]); changed = true }
                result += replacement
            } else if changed {
                result += parameter
            }
            if changed { result += separator }
        }
        while index < utf8.endIndex {
            let byte = utf8[index]
            let next = utf8.index(after: index)
            if separators.contains(byte) {
                flush(upTo: index, separator: text[index..<next])
                start = next
            }
            index = next
        }
        flush(upTo: text.endIndex, separator: "")
        return changed ? result : String(text)
    }

    /// The parameter's redacted form, or nil when it is kept as is.
    private func redactedParameter(_ parameter: Substring) -> String? {
        guard let equals = parameter.firstIndex(ofByte: 0x3D) else {
            return Self.looksLikeBareSecret(parameter) ? Self.redacted : nil
        }
        let name = parameter[..<equals]
        guard isSensitive(name: name) else { return nil }
        return parameter[...equals] + Self.redacted
    }

    // MARK: - Names

    func isSensitive(name: Substring) -> Bool {
        let decoded = PercentDecoding.decode(name, badEscape: .keep, plusIsSpace: true) ?? []
        if decoded.isEmpty { return false }
        let lowered = String(decoding: decoded.map(ASCIICase.lowercased), as: UTF8.self)
        if Self.conventionNames.contains(lowered) || extraNames.contains(lowered) { return true }
        if lowered.hasSuffix("key") { return true }
        for word in Self.words(decoded) where Self.sensitiveWords.contains(word) { return true }
        let joined = String(decoding: lowered.utf8.filter { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) },
                            as: UTF8.self)
        return Self.sensitiveFragments.contains { joined.contains($0) }
    }

    /// Alphanumeric runs, split again where a lowercase letter meets an uppercase one; lowercased.
    static func words(_ bytes: [UInt8]) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        var previousWasLower = false
        for byte in bytes {
            let isUpper = ASCIICase.isUppercase(byte)
            let isLower = ASCIICase.isLowercase(byte)
            let isDigit = byte >= 0x30 && byte <= 0x39
            if !(isUpper || isLower || isDigit) {
                if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
                current.removeAll(keepingCapacity: true)
                previousWasLower = false
                continue
            }
            if isUpper && previousWasLower && !current.isEmpty {
                words.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            }
            current.append(ASCIICase.lowercased(byte))
            previousWasLower = isLower
        }
        if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
        return words
    }

    /// A value with no name: long, and made of letters and digits (and `-_.~%`), with at least one of each.
    static func looksLikeBareSecret(_ parameter: Substring) -> Bool {
        guard parameter.utf8.count >= 16 else { return false }
        var letters = false, digits = false
        for byte in parameter.utf8 {
            switch byte {
            case 0x30...0x39: digits = true
            case 0x41...0x5A, 0x61...0x7A: letters = true
            case 0x2D, 0x2E, 0x5F, 0x7E, 0x25: continue
            default: return false
            }
        }
        return letters && digits
    }
}
