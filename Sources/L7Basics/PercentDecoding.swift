/// `%XX` escapes, as URLs, `OTEL_RESOURCE_ATTRIBUTES`, OTLP header
/// variables and `grpc-message` write them: the one decoder of the project.
public enum PercentDecoding {
    public enum BadEscape: Sendable {
        /// A `%` without two hex digits makes the whole text invalid (nil).
        case reject
        /// A `%` without two hex digits stays as it is (URLs seen on the wire).
        case keep
    }

    /// The decoded bytes; nil only with `.reject` and a bad escape.
    /// `plusIsSpace`: form encoding, where `+` stands for a space.
    public static func decode<S: StringProtocol>(_ text: S, badEscape: BadEscape, plusIsSpace: Bool = false) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x25, index + 2 < bytes.count, let high = Hex.digitValue(bytes[index + 1]),
               let low = Hex.digitValue(bytes[index + 2]) {
                out.append(UInt8(high << 4 | low))
                index += 3
                continue
            }
            // A bad escape: rejected, or its `%` kept and what follows read again as ordinary text.
            if byte == 0x25 && badEscape == .reject { return nil }
            out.append(plusIsSpace && byte == 0x2B ? 0x20 : byte)
            index += 1
        }
        return out
    }

    /// The decoded text; nil on a bad escape or when the bytes are not UTF-8.
    public static func decodeUTF8<S: StringProtocol>(_ text: S) -> String? {
        decode(text, badEscape: .reject).flatMap { String(validating: $0, as: UTF8.self) }
    }
}
