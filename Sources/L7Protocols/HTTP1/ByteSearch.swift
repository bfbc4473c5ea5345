#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import L7Basics

/// ASCII bytes the HTTP/1 parser looks for.
enum ASCII {
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// RFC 9110 tchar: the bytes of a token (method, field name). A bit per
    /// byte value: this runs for every byte of every field name.
    @inline(__always) static func isTokenChar(_ b: UInt8) -> Bool {
        let word: UInt64 = b < 64 ? 0x3ff6cfa00000000 : b < 128 ? 0x57ffffffc7fffffe : 0
        return (word >> UInt64(b & 63)) & 1 == 1
    }
}

extension UnsafeRawBufferPointer {
    /// Index of the first `byte` in `from..<count`, found with memchr
    /// because most of what the parser scans is long runs without it.
    @inline(__always)
    func index(of byte: UInt8, from start: Int) -> Int? {
        guard start < count, let base = baseAddress else { return nil }
        guard let hit = memchr(base + start, Int32(byte), count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// The bytes of `range` as a buffer of their own (no copy).
    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }

    /// Whether the bytes equal `lowercase` (which must be lowercase ASCII)
    /// ignoring ASCII case. Runs for field names of every message: one
    /// lowering per byte, no bounds checks.
    @inline(__always)
    func equalsCaseInsensitive(_ lowercase: StaticString) -> Bool {
        let n = lowercase.utf8CodeUnitCount
        guard count == n else { return false }
        guard n > 0 else { return true }
        let bytes = baseAddress!.assumingMemoryBound(to: UInt8.self), expected = lowercase.utf8Start
        if ASCIICase.lowercased(bytes[0]) != expected[0] { return false }
        for i in 1..<n where ASCIICase.lowercased(bytes[i]) != expected[i] { return false }
        return true
    }

    /// The line without its trailing CR, if any (the LF is already excluded).
    func droppingCR() -> UnsafeRawBufferPointer {
        count > 0 && self[count - 1] == ASCII.cr ? slice(0..<(count - 1)) : self
    }

    var string: String { String(decoding: self, as: UTF8.self) }
}
