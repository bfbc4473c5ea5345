import Foundation

/// One recorded TCP stream file: every recv() a relay saw, in order, with
/// the connection and direction it belonged to (format in tools/record.py).
/// Replaying the records one by one feeds a parser the call sizes the real
/// programs produced, rather than whole messages.
struct Recording {
    struct Record {
        var connection: Int
        /// From the client to the server (the request direction).
        var fromClient: Bool
        var bytes: [UInt8]
    }

    var name: String
    var records: [Record]

    var totalBytes: Int { records.reduce(0) { $0 + $1.bytes.count } }
    var connectionCount: Int { (records.map(\.connection).max() ?? -1) + 1 }

    static let magic = Array("L7REC1\n\0".utf8)

    enum LoadError: Error, CustomStringConvertible {
        case unreadable(String), notARecording(String), truncated(String)
        var description: String {
            switch self {
            case .unreadable(let path): return "cannot read \(path)"
            case .notARecording(let path): return "\(path) is not an l7rec recording"
            case .truncated(let path): return "\(path) ends inside a record"
            }
        }
    }

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw LoadError.unreadable(path) }
        let bytes = [UInt8](data)
        guard bytes.starts(with: Self.magic) else { throw LoadError.notARecording(path) }
        func bigEndian(_ at: Int, _ width: Int) -> Int {
            (at..<at + width).reduce(0) { $0 << 8 | Int(bytes[$1]) }
        }
        var records = [Record]()
        var at = Self.magic.count
        while at < bytes.count {
            guard at + 9 <= bytes.count else { throw LoadError.truncated(path) }
            let length = bigEndian(at + 5, 4)
            guard at + 9 + length <= bytes.count else { throw LoadError.truncated(path) }
            records.append(Record(connection: bigEndian(at, 4), fromClient: bytes[at + 4] == 0,
                                  bytes: Array(bytes[at + 9..<at + 9 + length])))
            at += 9 + length
        }
        self.name = (path as NSString).lastPathComponent
        self.records = records
    }
}
