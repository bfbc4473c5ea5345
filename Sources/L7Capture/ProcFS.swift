import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import L7Basics

/// Read-only views of /proc used to name and classify traced processes.
/// Nothing here interprets what it reads beyond splitting it; a process that
/// is gone (or forbidden) gives nil or empty.
public enum ProcFS {
    /// /proc/PID/environ is capped at this many bytes.
    public static let environLimit = 256 * 1024

    /// The target of /proc/PID/exe, e.g. `/usr/sbin/nginx` (may end in
    /// ` (deleted)` when the binary was replaced).
    public static func executablePath(_ pid: UInt32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The file name of the executable, or the kernel's 15-byte comm when
    /// the executable is unreadable (kernel threads, other users' processes).
    public static func executableName(_ pid: UInt32) -> String? {
        if var path = executablePath(pid) {
            if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
            if let slash = path.lastIndex(of: "/") { return String(path[path.index(after: slash)...]) }
            return path
        }
        guard let comm = readFile("/proc/\(pid)/comm", limit: 64) else { return nil }
        let name = String(decoding: comm, as: UTF8.self)
        return name.hasSuffix("\n") ? String(name.dropLast()) : name
    }

    /// Raw bytes of /proc/PID/environ: `NAME=value` entries separated by NUL.
    public static func environ(_ pid: UInt32) -> [UInt8]? {
        readFile("/proc/\(pid)/environ", limit: environLimit)
    }

    /// The arguments of /proc/PID/cmdline.
    public static func commandLine(_ pid: UInt32) -> [String] {
        guard let raw = readFile("/proc/\(pid)/cmdline", limit: 64 * 1024) else { return [] }
        var parts = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// The parent's pid, from the field after the state in /proc/PID/stat.
    public static func parentPid(_ pid: UInt32) -> UInt32? {
        guard let stat = readFile("/proc/\(pid)/stat", limit: 4096),
              let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // ") S 1234 ..." — the command name before it may hold spaces or parens.
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 1 else { return nil }
        return UInt32(String(decoding: fields[1], as: UTF8.self))
    }

    /// Every process id (thread-group ids only) now in /proc.
    public static func allPids() -> [UInt32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var pids = [UInt32]()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if let pid = UInt32(name) { pids.append(pid) }
        }
        return pids
    }

    /// The 64-hex-digit container id found in /proc/PID/cgroup (docker,
    /// containerd, cri-o and podman all put it in the cgroup path).
    public static func containerID(_ pid: UInt32) -> String? {
        guard let cgroup = readFile("/proc/\(pid)/cgroup", limit: 64 * 1024) else { return nil }
        return containerID(inCgroup: String(decoding: cgroup, as: UTF8.self))
    }

    /// The last run of exactly 64 hex digits in a cgroup file's text.
    public static func containerID(inCgroup text: String) -> String? {
        var found: Substring.UTF8View.SubSequence?
        let utf8 = text.utf8
        var runStart = utf8.startIndex
        var runLength = 0
        var index = utf8.startIndex
        while true {
            let atEnd = index == utf8.endIndex
            if !atEnd, Hex.digitValue(utf8[index]) != nil {
                if runLength == 0 { runStart = index }
                runLength += 1
            } else {
                if runLength == 64 { found = utf8[runStart..<index] }
                runLength = 0
            }
            if atEnd { break }
            index = utf8.index(after: index)
        }
        return found.map { String(decoding: $0, as: UTF8.self) }
    }

    /// This machine's host name.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cString: buffer)
    }

    /// TCP ports in LISTEN state in /proc/net/tcp and tcp6 — of this
    /// process's network namespace, or of `pid`'s when given.
    public static func listeningPorts(pid: UInt32? = nil) -> Set<UInt16> {
        let base = pid.map { "/proc/\($0)/net" } ?? "/proc/net"
        var ports = Set<UInt16>()
        for file in ["tcp", "tcp6"] {
            guard let table = readFile("\(base)/\(file)", limit: 64 << 20) else { continue }
            ports.formUnion(listeningPorts(inTable: table))
        }
        return ports
    }

    /// TCP ports `pid` itself listens on: its socket fds matched by inode
    /// with the LISTEN rows of its namespace's tables. nil when its fds
    /// cannot be read.
    public static func listeningPorts(ofProcess pid: UInt32) -> Set<UInt16>? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
        var inodes = Set<UInt64>()
        for entry in entries {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)"),
                  target.hasPrefix("socket:["), target.hasSuffix("]"),
                  let inode = UInt64(target.dropFirst(8).dropLast())
            else { continue }
            inodes.insert(inode)
        }
        var ports = Set<UInt16>()
        for file in ["tcp", "tcp6"] {
            guard let table = readFile("/proc/\(pid)/net/\(file)", limit: 64 << 20) else { continue }
            ports.formUnion(listeningPorts(inTable: table, inodes: inodes))
        }
        return ports
    }

    /// Parses a /proc/net/tcp-format table: `sl local_address rem_address st …`
    /// with `ADDR:PORT` in hex and state 0A meaning LISTEN.
    /// With `inodes`, only the rows of those sockets (column 10).
    static func listeningPorts(inTable table: [UInt8], inodes: Set<UInt64>? = nil) -> Set<UInt16> {
        var ports = Set<UInt16>()
        for line in table.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count > 3, fields[3].elementsEqual("0A".utf8),
                  let colon = fields[1].lastIndex(of: UInt8(ascii: ":")),
                  let port = UInt16(String(decoding: fields[1][(colon + 1)...], as: UTF8.self), radix: 16)
            else { continue }
            if let inodes {
                guard fields.count > 9, let inode = UInt64(String(decoding: fields[9], as: UTF8.self)),
                      inodes.contains(inode) else { continue }
            }
            ports.insert(port)
        }
        return ports
    }

    /// Reads a whole (proc) file, up to `limit` bytes.
    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 16384)
        while result.count < limit {
            let want = min(chunk.count, limit - result.count)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n < 0 && result.isEmpty ? nil : result }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }
}
