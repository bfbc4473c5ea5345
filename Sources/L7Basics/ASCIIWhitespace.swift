/// Trimming ASCII whitespace. Two sets: HTTP's optional whitespace (OWS:
/// space and tab), around field values, `tracestate` members and
/// `OTEL_RESOURCE_ATTRIBUTES` entries; and that plus CR and LF, around
/// values read from environment variables and flags.
public enum ASCIIWhitespace {
    /// Space or tab.
    @inlinable
    public static func isOWS(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// Space, tab, CR or LF.
    @inlinable
    public static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }

    /// `range` of `bytes` without leading and trailing spaces and tabs.
    @inlinable
    public static func trimmingOWS(_ bytes: UnsafePointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi && isOWS(bytes[lo]) { lo += 1 }
        while hi > lo && isOWS(bytes[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    /// The bytes without leading and trailing spaces and tabs (no copy).
    @inlinable
    public static func trimmingOWS(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var lo = 0, hi = bytes.count
        while lo < hi && isOWS(bytes[lo]) { lo += 1 }
        while hi > lo && isOWS(bytes[hi - 1]) { hi -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[lo..<hi])
    }

    /// The bytes without leading and trailing spaces and tabs (no copy).
    @inlinable
    public static func trimmingOWS(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var lo = 0, hi = bytes.count
        while lo < hi && isOWS(bytes[lo]) { lo += 1 }
        while hi > lo && isOWS(bytes[hi - 1]) { hi -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[lo..<hi])
    }

    /// The text without leading and trailing spaces and tabs.
    public static func trimmingOWS(_ text: Substring) -> Substring { trimming(text, where: isOWS) }
    public static func trimmingOWS(_ text: String) -> Substring { trimming(text[...], where: isOWS) }

    /// The text without leading and trailing spaces, tabs, CRs and LFs.
    public static func trimmingWhitespace(_ text: Substring) -> Substring { trimming(text, where: isWhitespace) }
    public static func trimmingWhitespace(_ text: String) -> Substring { trimming(text[...], where: isWhitespace) }

    private static func trimming(_ text: Substring, where isSpace: (UInt8) -> Bool) -> Substring {
        let utf8 = text.utf8
        // Usually there is nothing to trim.
        if let first = utf8.first, let last = utf8.last, !isSpace(first), !isSpace(last) { return text }
        var start = utf8.startIndex, end = utf8.endIndex
        while start < end && isSpace(utf8[start]) { start = utf8.index(after: start) }
        while start < end {
            let before = utf8.index(before: end)
            guard isSpace(utf8[before]) else { break }
            end = before
        }
        return text[start..<end]
    }
}
