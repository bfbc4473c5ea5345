/// Follows the TLS records of one direction of a connection's syscall bytes
/// (ciphertext): each record's content type, and the first bytes of the
/// direction's first record (enough of a ClientHello or ServerHello to
/// read). Bytes the capture did not keep (holes) are skipped; a hole that
/// swallows a record header loses the thread, which is picked up again at
/// the next call that starts with a plausible record header.
struct TLSRecordReader {
    /// What one record header said.
    struct Record: Equatable {
        var contentType: UInt8
        var length: Int
    }

    static let headerSize = 5
    static let handshake: UInt8 = 0x16
    static let applicationData: UInt8 = 0x17
    /// Bytes kept of the direction's first record body.
    static let firstBodyLimit = 256

    private var header: [UInt8] = []
    private var bodyLeft = 0
    private var inSync = true
    /// Records started so far in this direction.
    private(set) var records = 0
    /// The first record's type and the start of its body.
    private(set) var firstRecord: Record?
    private(set) var firstBody: [UInt8] = []
    /// Whether the first record's body is complete as far as kept.
    private(set) var firstBodyDone = false

    /// Reads one chunk of a call; `onRecord` is told of each record header.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, leadingHole: Int, startsCall: Bool, trailingHole: Int,
                       onRecord: (Record) -> Void) {
        if !inSync && startsCall && leadingHole == 0 && Self.looksLikeHeader(bytes) {
            inSync = true
            header.removeAll(keepingCapacity: true)
            bodyLeft = 0
        }
        skip(leadingHole)
        var i = 0
        while inSync && i < bytes.count {
            if bodyLeft > 0 {
                let take = min(bodyLeft, bytes.count - i)
                if records == 1 && !firstBodyDone {
                    let keep = min(take, Self.firstBodyLimit - firstBody.count)
                    if keep > 0 { firstBody.append(contentsOf: bytes[i..<i + keep]) }
                }
                bodyLeft -= take
                i += take
                if bodyLeft == 0 || firstBody.count >= Self.firstBodyLimit { finishFirstBody() }
                continue
            }
            let take = min(Self.headerSize - header.count, bytes.count - i)
            header.append(contentsOf: bytes[i..<i + take])
            i += take
            guard header.count == Self.headerSize else { break }
            guard (0x14...0x18).contains(header[0]), header[1] == 0x03 else {
                inSync = false
                break
            }
            let record = Record(contentType: header[0], length: Int(header[3]) << 8 | Int(header[4]))
            header.removeAll(keepingCapacity: true)
            bodyLeft = record.length
            records += 1
            if records == 1 { firstRecord = record }
            if bodyLeft == 0 { finishFirstBody() }
            onRecord(record)
        }
        skip(trailingHole)
    }

    private mutating func finishFirstBody() {
        if records >= 1 { firstBodyDone = true }
    }

    private mutating func skip(_ hole: Int) {
        guard hole > 0, inSync else { return }
        if header.isEmpty && hole <= bodyLeft {
            bodyLeft -= hole
            if records == 1 { finishFirstBody() }
        } else {
            inSync = false
        }
    }

    /// A record header (change cipher spec, alert, handshake, application
    /// data, heartbeat; version 3.x).
    static func looksLikeHeader(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 3 && (0x14...0x18).contains(b[0]) && b[1] == 0x03 && b[2] <= 0x04
    }
}
