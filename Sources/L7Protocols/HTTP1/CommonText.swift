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
    private static let methods: [(StaticString, String)] = [
        ("GET", "GET"), ("POST", "POST"), ("PUT", "PUT"), ("DELETE", "DELETE"), ("HEAD", "HEAD"),
        ("OPTIONS", "OPTIONS"), ("PATCH", "PATCH"),
    ]
    private static let versions: [(StaticString, String)] = [("1.1", "1.1"), ("1.0", "1.0")]
    private static let reasons: [(StaticString, String)] = [
        ("OK", "OK"), ("Not Found", "Not Found"), ("No Content", "No Content"), ("Not Modified", "Not Modified"),
        ("Created", "Created"), ("Found", "Found"),
    ]

    static func method(_ bytes: UnsafeRawBufferPointer) -> String { pick(bytes, from: methods) }
    static func version(_ bytes: UnsafeRawBufferPointer) -> String { pick(bytes, from: versions) }
    static func reason(_ bytes: UnsafeRawBufferPointer) -> String { pick(bytes, from: reasons) }

    private static func pick(_ bytes: UnsafeRawBufferPointer, from candidates: [(StaticString, String)]) -> String {
        guard let base = bytes.baseAddress else { return "" }
        for (text, string) in candidates
        where text.utf8CodeUnitCount == bytes.count && memcmp(text.utf8Start, base, bytes.count) == 0 {
            return string
        }
        return bytes.string
    }
}
