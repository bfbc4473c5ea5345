import L7Basics

/// Extracts the human-readable reason from a collector's error response.
///
/// OTLP/HTTP errors carry a `google.rpc.Status` in the request's encoding:
/// for protobuf its `message` is field 2 (tag 0x12); anything else is shown
/// as text when it is printable.
enum CollectorMessage {
    static let maxLength = 300

    static func text(body: UnsafeRawBufferPointer, contentType: String) -> String {
        if contentType.lowercased().contains("protobuf") {
            return statusMessage(body).map(clean) ?? ""
        }
        return clean(String(decoding: body.prefix(maxLength * 4), as: UTF8.self))
    }

    /// Field 2 of a protobuf `google.rpc.Status`, skipping the others.
    static func statusMessage(_ body: UnsafeRawBufferPointer) -> String? {
        var index = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < body.count, shift < 64 {
                let byte = body[index]
                index += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while index < body.count {
            guard let tag = varint() else { return nil }
            switch tag & 7 {
            case 0: guard varint() != nil else { return nil }
            case 1: index += 8
            case 5: index += 4
            case 2:
                guard let length = varint(), length <= UInt64(body.count - index) else { return nil }
                if tag >> 3 == 2 {
                    return String(decoding: body[index..<index + Int(length)], as: UTF8.self)
                }
                index += Int(length)
            default: return nil
            }
        }
        return nil
    }

    /// One line, printable, bounded.
    static func clean(_ text: String) -> String {
        var line = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        line = String(ASCIIWhitespace.trimmingWhitespace(line))
        if line.count > maxLength { line = String(line.prefix(maxLength)) + "…" }
        return line
    }
}
