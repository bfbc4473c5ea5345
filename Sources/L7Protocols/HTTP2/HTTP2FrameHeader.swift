/// The 9-byte header of an HTTP/2 frame (RFC 9113 §4.1).
struct HTTP2FrameHeader: Equatable {
    enum FrameType: UInt8 {
        case data = 0, headers, priority, rstStream, settings, pushPromise, ping, goaway, windowUpdate, continuation
    }

    enum Flag {
        static let endStream: UInt8 = 0x1
        static let ack: UInt8 = 0x1
        static let endHeaders: UInt8 = 0x4
        static let padded: UInt8 = 0x8
        static let priority: UInt8 = 0x20
    }

    static let size = 9
    /// SETTINGS_MAX_FRAME_SIZE's initial value: larger frames need the peer's consent.
    static let defaultMaxLength = 16_384

    var length: Int
    var rawType: UInt8
    var flags: UInt8
    var streamID: UInt32
    /// The reserved bit, which senders must leave unset.
    var reservedBit: Bool

    var type: FrameType? { FrameType(rawValue: rawType) }

    init(length: Int, type: FrameType, flags: UInt8, streamID: UInt32) {
        self.length = length; self.rawType = type.rawValue; self.flags = flags
        self.streamID = streamID; self.reservedBit = false
    }

    /// Reads a header from the first 9 bytes of `b`.
    init(_ b: UnsafeRawBufferPointer) {
        length = Int(b[0]) << 16 | Int(b[1]) << 8 | Int(b[2])
        rawType = b[3]
        flags = b[4]
        reservedBit = b[5] & 0x80 != 0
        streamID = UInt32(b[5] & 0x7F) << 24 | UInt32(b[6]) << 16 | UInt32(b[7]) << 8 | UInt32(b[8])
    }

    func has(_ flag: UInt8) -> Bool { flags & flag != 0 }

    /// Whether this header is one a conforming peer could send: a known
    /// type, only that type's flags, the stream id and length rules of its
    /// type. Strict on purpose: it decides whether bytes of a connection
    /// seen mid-way are HTTP/2 at all, and where a lost stream resumes.
    func isPlausible(maxLength: Int = HTTP2FrameHeader.defaultMaxLength) -> Bool {
        guard let type, !reservedBit, length <= maxLength else { return false }
        let onStream = streamID != 0
        let paddedMinimum = has(Flag.padded) ? 1 : 0
        switch type {
        case .data:
            return onStream && flags & ~(Flag.endStream | Flag.padded) == 0 && length >= paddedMinimum
        case .headers:
            let allowed = Flag.endStream | Flag.endHeaders | Flag.padded | Flag.priority
            return onStream && flags & ~allowed == 0 && length >= paddedMinimum + (has(Flag.priority) ? 5 : 0)
        case .priority:
            return onStream && flags == 0 && length == 5
        case .rstStream:
            return onStream && flags == 0 && length == 4
        case .settings:
            return !onStream && flags & ~Flag.ack == 0 && (has(Flag.ack) ? length == 0 : length % 6 == 0)
        case .pushPromise:
            return onStream && flags & ~(Flag.endHeaders | Flag.padded) == 0 && length >= paddedMinimum + 4
        case .ping:
            return !onStream && flags & ~Flag.ack == 0 && length == 8
        case .goaway:
            return !onStream && flags == 0 && length >= 8
        case .windowUpdate:
            return flags == 0 && length == 4
        case .continuation:
            return onStream && flags & ~Flag.endHeaders == 0
        }
    }
}

/// RFC 9113 §7 error codes, as RST_STREAM and GOAWAY carry them.
public enum HTTP2ErrorCode {
    public static let noError: UInt32 = 0x0
    public static let protocolError: UInt32 = 0x1
    public static let internalError: UInt32 = 0x2
    public static let refusedStream: UInt32 = 0x7
    public static let cancel: UInt32 = 0x8
    public static let enhanceYourCalm: UInt32 = 0xb
    public static let inadequateSecurity: UInt32 = 0xc

    /// The RFC's name for a code, e.g. `CANCEL`; unknown codes are INTERNAL_ERROR (RFC 9113 §7).
    public static func name(_ code: UInt32) -> String {
        let names = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
                     "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
                     "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
        return code < names.count ? names[Int(code)] : "INTERNAL_ERROR"
    }
}
