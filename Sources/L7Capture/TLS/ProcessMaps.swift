/// The files a process has mapped, from /proc/PID/maps. Libraries loaded
/// with dlopen appear here as soon as they are loaded, which is why
/// discovery reads it again after exec rather than only at exec.
public enum ProcessMaps {
    /// Distinct files mapped by `pid`, in the order of first appearance;
    /// empty when the process is gone.
    public static func files(of pid: UInt32) -> [MappedFile] {
        guard let text = ProcFS.readFile("/proc/\(pid)/maps", limit: 16 << 20) else { return [] }
        return parse(text)
    }

    /// Parses maps text: `start-end perms offset dev inode path`. Anonymous
    /// and special mappings (`[heap]`, inode 0) and files deleted since they
    /// were mapped are left out: a uprobe needs a file that exists.
    public static func parse(_ text: [UInt8]) -> [MappedFile] {
        var seen = Set<FileIdentity>()
        var files = [MappedFile]()
        for line in text.split(separator: UInt8(ascii: "\n")) {
            guard let file = parseLine(line), seen.insert(file.identity).inserted else { continue }
            files.append(file)
        }
        return files
    }

    private static func parseLine(_ line: ArraySlice<UInt8>) -> MappedFile? {
        let space = UInt8(ascii: " ")
        var fields = [Substring]()
        var index = line.startIndex
        // The first five fields, then the path (which may hold spaces).
        while fields.count < 5 {
            while index < line.endIndex && line[index] == space { index += 1 }
            let start = index
            while index < line.endIndex && line[index] != space { index += 1 }
            guard start < index else { return nil }
            fields.append(Substring(decoding: line[start..<index], as: UTF8.self))
        }
        while index < line.endIndex && line[index] == space { index += 1 }
        guard index < line.endIndex, line[index] == UInt8(ascii: "/"),
              let inode = UInt64(fields[4]), inode != 0 else { return nil }
        let path = String(decoding: line[index...], as: UTF8.self)
        guard !path.hasSuffix(" (deleted)") else { return nil }
        return MappedFile(path: path, identity: FileIdentity(device: String(fields[3]), inode: inode))
    }
}
