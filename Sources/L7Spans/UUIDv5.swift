import L7Basics

/// Name-based UUIDs (RFC 9562 §5.5): the same name under the same namespace
/// always gives the same id, so a process keeps its `service.instance.id`
/// across tracer restarts.
public enum UUIDv5 {
    /// The namespace the resource conventions give for `service.instance.id`.
    public static let serviceInstanceNamespace = "4d63009a-8d0f-11ee-aad7-4c796ed8e320"

    /// Lowercase `8-4-4-4-12` text, or nil when `namespace` is not a UUID.
    public static func string(namespace: String, name: String) -> String? {
        guard let ns = parse(namespace) else { return nil }
        var digest = SHA1.hash(ns + Array(name.utf8))
        digest[6] = (digest[6] & 0x0F) | 0x50  // version 5
        digest[8] = (digest[8] & 0x3F) | 0x80  // RFC variant
        return format(digest[0..<16])
    }

    static func parse(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 where c != 0x2D {
            guard let digit = Hex.digitValue(c) else { return nil }
            let v = UInt8(digit)
            if let hi = high { bytes.append(hi << 4 | v); high = nil } else { high = v }
        }
        return bytes.count == 16 && high == nil ? bytes : nil
    }

    static func format(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(0x2D) }
            Hex.append(UInt64(b), digits: 2, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
