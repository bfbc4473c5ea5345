/// Hexadecimal digits: reading them (percent escapes, chunk sizes, trace
/// and UUID ids) and writing ids in lowercase, as W3C Trace Context, OTLP
/// JSON and the console line want them. The writers are `@inlinable`: the
/// exporters call them for every span.
public enum Hex {
    /// 0–15 for `0-9`, `a-f`, `A-F`; nil for any other byte.
    @inlinable
    public static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte &- 0x30)
        case 0x61...0x66: return Int(byte &- 0x61 &+ 10)
        case 0x41...0x46: return Int(byte &- 0x41 &+ 10)
        default: return nil
        }
    }

    /// 0–15 for `0-9`, `a-f` only: W3C Trace Context rejects uppercase ids.
    @inlinable
    public static func lowercaseDigitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte &- 0x30)
        case 0x61...0x66: return Int(byte &- 0x61 &+ 10)
        default: return nil
        }
    }

    /// The lowercase digit of `nibble` (0–15).
    @inlinable
    public static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble &+ 0x30 : nibble &+ 0x57
    }

    /// Appends the low `digits` nibbles of `value`, most significant first,
    /// in lowercase and zero-padded (16 digits: a span id, half a trace id).
    @inlinable
    public static func append(_ value: UInt64, digits: Int = 16, to out: inout [UInt8]) {
        var shift = (digits - 1) * 4
        while shift >= 0 {
            out.append(digit(UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xF))
            shift -= 4
        }
    }

    /// `value` in lowercase hex, zero-padded to at least `minimumDigits`.
    public static func string(_ value: UInt64, minimumDigits: Int = 16) -> String {
        var digits = 1
        while digits < 16 && value >> UInt64(digits * 4) != 0 { digits += 1 }
        var out: [UInt8] = []
        out.reserveCapacity(max(digits, minimumDigits))
        for _ in digits..<max(digits, minimumDigits) { out.append(0x30) }
        append(value, digits: digits, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Each byte as two lowercase digits.
    public static func string<Bytes: Sequence>(bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes { append(UInt64(byte), digits: 2, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The number the `count` lowercase digits of `bytes` from `start` spell
    /// (at most 16 digits); nil when one is not a lowercase hex digit.
    @inlinable
    public static func lowercaseValue(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, count: Int) -> UInt64? {
        var value: UInt64 = 0
        for index in start..<(start + count) {
            guard let digit = lowercaseDigitValue(bytes[index]) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}
