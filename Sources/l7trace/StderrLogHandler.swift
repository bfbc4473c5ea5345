import Foundation
import Logging

/// Writes the tracer's log lines to stderr as `<time> <level> l7trace: <message>`:
/// one "l7trace:" prefix (the messages mostly carry it already; swift-log's
/// stream handler added its label and source module on top of it).
struct StderrLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        let text = Self.line(time: Self.timestamp(), level: level, message: "\(message)",
                             metadata: metadata.merging(explicit ?? [:]) { $1 })
        FileHandle.standardError.write(text.data(using: .utf8)!)
    }

    /// One line as written (tested for its single prefix).
    static func line(time: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let body = message.hasPrefix("l7trace: ") ? message : "l7trace: " + message
        let extra = metadata.isEmpty ? "" : " " + metadata.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        return "\(time) \(level) \(body)\(extra)\n"
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(cString: buffer)
    }
}
