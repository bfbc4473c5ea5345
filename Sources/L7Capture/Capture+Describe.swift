import L7Events

extension Capture {
    /// One line per event for `--dump-events` and tests, `key=value` fields:
    ///
    ///     open tgid=12 conn=3 fd=5 tid=12 role=client local=127.0.0.1:40312 remote=127.0.0.1:18080 t=…
    ///     data tgid=12 conn=3 fd=5 tid=12 dir=egress src=syscall len=78 captured=78 enter=… exit=… bytes="GET / HTTP/1.1\r\n…"
    ///
    /// (a chunk of a call copied in several adds `offset=N`, and `more` unless it is the last)
    ///     close tgid=12 conn=3 fd=5 t=…
    ///     exec tgid=12 ppid=1 t=…
    ///     fork tgid=13 ppid=12 t=…
    ///     exit tgid=12 t=…
    ///
    /// `bytes` shows at most `previewBytes` captured bytes, escaped.
    public static func describe(_ event: CaptureEvent, previewBytes: Int = 64) -> String {
        switch event {
        case .open(let e):
            return "open tgid=\(e.key.tgid) conn=\(e.key.connectionID) fd=\(e.fd) tid=\(e.tid) role=\(e.role.name)"
                + " local=\(e.local?.description ?? "-") remote=\(e.remote?.description ?? "-") t=\(e.timestampNs)"
        case .data(let e):
            return "data tgid=\(e.key.tgid) conn=\(e.key.connectionID) fd=\(e.fd) tid=\(e.tid)"
                + " dir=\(e.direction == .egress ? "egress" : "ingress") src=\(e.source == .ssl ? "ssl" : "syscall")"
                + " len=\(e.returnedLength) captured=\(e.bytes.count)"
                + (e.offset == 0 && e.isLastChunk ? "" : " offset=\(e.offset)" + (e.isLastChunk ? "" : " more"))
                + " enter=\(e.enterNs) exit=\(e.exitNs)"
                + " bytes=\"\(escaped(e.bytes.prefix(previewBytes)))\""
        case .close(let e):
            return "close tgid=\(e.key.tgid) conn=\(e.key.connectionID) fd=\(e.fd)\(e.shared ? " shared" : "") t=\(e.timestampNs)"
        case .processStarted(let e):
            return "exec tgid=\(e.tgid) ppid=\(e.parentTgid) t=\(e.timestampNs)"
        case .processForked(let e):
            return "fork tgid=\(e.tgid) ppid=\(e.parentTgid) t=\(e.timestampNs)"
        case .processExited(let e):
            return "exit tgid=\(e.tgid) t=\(e.timestampNs)"
        }
    }

    private static func escaped(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
        var text = ""
        text.reserveCapacity(bytes.count)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\r"): text += "\\r"
            case UInt8(ascii: "\n"): text += "\\n"
            case UInt8(ascii: "\t"): text += "\\t"
            case UInt8(ascii: "\""): text += "\\\""
            case UInt8(ascii: "\\"): text += "\\\\"
            case 0x20..<0x7f: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16)
                text += byte < 16 ? "\\x0\(hex)" : "\\x\(hex)"
            }
        }
        return text
    }
}

extension ConnectionRole {
    var name: String {
        switch self {
        case .unknown: return "unknown"
        case .client: return "client"
        case .server: return "server"
        }
    }
}
