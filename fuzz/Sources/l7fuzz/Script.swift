// Inputs of the tracker targets are scripts: what the capture would hand the
// ConnectionTracker (calls in either direction, split into chunks, with
// holes, opens, closes, exits) on up to four connections of one process.
//
// Each step starts with a control byte c: kind = c & 7, connection = c >> 3 & 3,
// direction = c >> 5 & 1 (0 ingress), flags = c >> 6.
//   0…3 data     n:u8, n bytes; flag 1: a hole of (u8 × 97) uncaptured bytes after them; flag 2: TLS plaintext
//   4   long     n:u16le, n bytes (an HPACK block, a large head); flags as data
//   5   split    n:u8, cut:u8, n bytes: one call captured as two chunks; flag 1: bytes missing between them
//   6   frame    type, flags, stream:u8, n:u8, n bytes: one call of a 9-byte h2 frame header + payload
//   7   control  flags 0 open as server, 1 open as client, 2 close, 3 the process exits
import L7Events

struct ScriptReader {
    enum Step {
        case data(connection: UInt64, Direction, ArraySlice<UInt8>, hole: Int, tls: Bool)
        case split(connection: UInt64, Direction, ArraySlice<UInt8>, cut: Int, gap: Int)
        case open(connection: UInt64, ConnectionRole)
        case close(connection: UInt64)
        case exit
    }

    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ n: Int) -> ArraySlice<UInt8> {
        let end = min(bytes.count, position + n)
        defer { position = end }
        return bytes[position..<end]
    }

    /// The next step; nil at the end of the input. Every step consumes at least one byte.
    mutating func next() -> Step? {
        guard let c = byte() else { return nil }
        let connection = UInt64(c >> 3 & 3)
        let direction: Direction = c >> 5 & 1 == 0 ? .ingress : .egress
        let flags = c >> 6
        switch c & 7 {
        case 0...4:
            let n = c & 7 == 4 ? Int(byte() ?? 0) | Int(byte() ?? 0) << 8 : Int(byte() ?? 0)
            let payload = take(n)
            let hole = flags & 1 != 0 ? Int(byte() ?? 0) * 97 : 0
            return .data(connection: connection, direction, payload, hole: hole, tls: flags & 2 != 0)
        case 5:
            let n = Int(byte() ?? 0), cut = Int(byte() ?? 0)
            let payload = take(n)
            return .split(connection: connection, direction, payload, cut: payload.isEmpty ? 0 : cut % payload.count,
                          gap: flags & 1 != 0 ? 1 + cut * 13 : 0)
        case 6:
            let type = byte() ?? 0, frameFlags = byte() ?? 0, stream = byte() ?? 0, n = Int(byte() ?? 0)
            let payload = take(n)
            let header: [UInt8] = [0, 0, UInt8(payload.count), type, frameFlags, 0, 0, 0, stream]
            return .data(connection: connection, direction, ArraySlice(header + payload), hole: 0, tls: false)
        default:
            switch flags {
            case 0: return .open(connection: connection, .server)
            case 1: return .open(connection: connection, .client)
            case 2: return .close(connection: connection)
            default: return .exit
            }
        }
    }
}
