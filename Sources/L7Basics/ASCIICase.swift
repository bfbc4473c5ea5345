/// ASCII letter case, as HTTP field names and URL words compare it: only
/// `A-Z` and `a-z` have a case; every other byte (UTF-8 included) is itself.
public enum ASCIICase {
    @inlinable
    public static func isUppercase(_ byte: UInt8) -> Bool { byte &- 0x41 < 26 }

    @inlinable
    public static func isLowercase(_ byte: UInt8) -> Bool { byte &- 0x61 < 26 }

    /// `A-Z` to `a-z`; every other byte unchanged.
    @inlinable
    public static func lowercased(_ byte: UInt8) -> UInt8 { isUppercase(byte) ? byte | 0x20 : byte }

    /// Whether the two bytes are equal ignoring ASCII case.
    @inlinable
    public static func equal(_ a: UInt8, _ b: UInt8) -> Bool { a == b || lowercased(a) == lowercased(b) }

    /// Whether the two byte sequences are equal ignoring ASCII case.
    @inlinable
    public static func equal<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { equal($0, $1) }
    }

    /// Whether the two texts are equal ignoring ASCII case (`Content-Type`, `content-type`).
    @inlinable
    public static func equal<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        equal(a.utf8, b.utf8)
    }
}
