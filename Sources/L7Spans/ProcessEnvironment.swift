/// The environment of another process, from the raw bytes of
/// `/proc/PID/environ` (NUL-separated `NAME=VALUE` entries).
///
/// That file shows the memory where the environment *was* placed at exec;
/// programs that set their process title (nginx, postgres, sshd…) move the
/// environment elsewhere and overwrite this area with the title and NUL
/// padding. Such a block is ignored whole rather than mined for values that
/// may be fragments of a title: a block is trusted only if, once trailing
/// NULs are removed, every entry is `NAME=VALUE` with a non-empty printable
/// name without spaces.
public struct ProcessEnvironment: Sendable {
    private let bytes: [UInt8]
    private let entries: [Range<Int>]
    /// False when the block looked overwritten; it then has no variables.
    public let isTrusted: Bool

    public init(environ: [UInt8]) {
        var end = environ.count
        while end > 0 && environ[end - 1] == 0 { end -= 1 }
        var entries: [Range<Int>] = []
        var start = 0, trusted = true
        while start < end {
            let stop = environ[start..<end].firstIndex(of: 0) ?? end
            guard Self.isAssignment(environ[start..<stop]) else { trusted = false; break }
            entries.append(start..<stop)
            start = stop + 1
        }
        self.bytes = trusted ? environ : []
        self.entries = trusted ? entries : []
        self.isTrusted = trusted
    }

    /// The raw value bytes of the first `name` entry (as `getenv` would find it).
    public func rawValue(_ name: String) -> ArraySlice<UInt8>? {
        let key = Array(name.utf8)
        for range in entries {
            let entry = bytes[range]
            guard entry.count > key.count, entry[entry.startIndex + key.count] == 0x3D,
                  entry.prefix(key.count).elementsEqual(key) else { continue }
            return entry[(entry.startIndex + key.count + 1)...]
        }
        return nil
    }

    /// The value as text, when it is valid UTF-8.
    public func value(_ name: String) -> String? {
        rawValue(name).flatMap { String(validating: $0, as: UTF8.self) }
    }

    private static func isAssignment(_ entry: ArraySlice<UInt8>) -> Bool {
        guard let eq = entry.firstIndex(of: 0x3D), eq > entry.startIndex else { return false }
        return entry[..<eq].allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
