/// Replaces the values of query parameters that carry credentials
/// (pre-signed URLs) with `REDACTED`, as the HTTP semantic conventions ask.
enum QueryRedaction {
    /// Lowercased, so `sig` and `SIG` are both caught; over-redacting a
    /// look-alike parameter is the safe mistake.
    static let sensitiveKeys: Set<String> = [
        "x-amz-signature", "x-amz-credential", "x-amz-security-token",
        "awsaccesskeyid", "signature", "sig", "x-goog-signature",
    ]

    static func redact(_ query: Substring) -> String {
        // Fast path: most queries hold nothing to redact and are returned as is.
        let params = query.splitBytes(0x26)
        guard params.contains(where: isSensitive) else { return String(query) }
        return params.map { param -> String in
            guard isSensitive(param), let eq = param.firstIndex(ofByte: 0x3D) else { return String(param) }
            return param[...eq] + "REDACTED"
        }.joined(separator: "&")
    }

    private static func isSensitive(_ param: Substring) -> Bool {
        guard let eq = param.firstIndex(ofByte: 0x3D) else { return false }
        let key = param[..<eq]
        // Cheap filter before lowercasing: every sensitive key is 3…20 bytes.
        let n = key.utf8.count
        return n >= 3 && n <= 20 && sensitiveKeys.contains(key.lowercased())
    }
}
