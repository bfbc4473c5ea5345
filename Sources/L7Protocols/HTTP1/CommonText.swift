#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The start-line words almost every message carries, returned as string
/// literals: making a String from bytes validates and copies them, and these
/// few words are most of what start lines hold.
enum CommonText {
    private static let methods: [String] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]
    private static let versions: [String] = ["1.1", "1.0"]
    private static let reasons: [String] = ["OK", "Not Found", "No Content", "Not Modified", "Created", "Found"]

    static func method(_ bytes: UnsafeRawBufferPointer) -> String { pick(bytes, from: methods) }
    static func version(_ bytes: UnsafeRawBufferPointer) -> String { pick(bytes, from: versions) }
    static func reason(_ bytes: UnsafeRawBufferPointer) -> String { pick(bytes, from: reasons) }

    private static func pick(_ bytes: UnsafeRawBufferPointer, from candidates: [String]) -> String {
        for candidate in candidates {
            var candidate = candidate
            let same = candidate.withUTF8 { c in c.count == bytes.count && memcmp(c.baseAddress!, bytes.baseAddress!, c.count) == 0 }
            if same { return candidate }
        }
        return bytes.string
    }
}
