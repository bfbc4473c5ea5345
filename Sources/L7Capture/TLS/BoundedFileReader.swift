#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file read only through bounded pread()s into buffers we own, never
/// mapped: the tracer's RSS then holds at most one chunk of it, whatever the
/// file's size (mapping a 200 MB program and searching it added 200 MB of
/// file pages to the tracer's RSS). The one type here that touches raw memory.
final class BoundedFileReader {
    /// The most one `bytes(at:count:)` returns: headers and tables, not contents.
    static let maxRead = 4 << 20
    /// Contents are searched this much at a time (the buffer is reused).
    static let chunkSize = 256 << 10

    let size: Int
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ELFError.cannotOpen(errno: errno) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ELFError.notELF
        }
        size = Int(status.st_size)
    }

    deinit { close(fd) }

    /// Exactly `count` bytes at `offset`; `what` names them in the error
    /// when the file ends first.
    func bytes(at offset: Int, count: Int, _ what: String) throws -> [UInt8] {
        guard count >= 0, count <= Self.maxRead else { throw ELFError.tooLarge(what) }
        guard offset >= 0, offset <= size, count <= size - offset else { throw ELFError.truncated(what) }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { readFully(into: $0, at: offset) }
        guard got == count else { throw ELFError.truncated(what) }
        return buffer
    }

    /// Up to `limit` bytes at `offset`, fewer where the file ends.
    func prefix(at offset: Int, limit: Int) -> [UInt8] {
        guard offset >= 0, offset < size else { return [] }
        let count = min(limit, size - offset, Self.maxRead)
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { readFully(into: $0, at: offset) }
        return Array(buffer.prefix(got))
    }

    /// Calls `body` with consecutive pieces of `range`, each a whole number
    /// of `unit`-byte records (symbol table entries); stops when it returns false.
    func forEachChunk(of range: Range<Int>, unit: Int, _ what: String, _ body: ([UInt8]) throws -> Bool) throws {
        guard unit > 0, range.lowerBound >= 0, range.upperBound <= size else { throw ELFError.truncated(what) }
        let step = max(unit, Self.chunkSize / unit * unit)
        var offset = range.lowerBound
        while offset + unit <= range.upperBound {
            let count = min(step, (range.upperBound - offset) / unit * unit)
            guard try body(try bytes(at: offset, count: count, what)) else { return }
            offset += count
        }
    }

    /// Where `needle` starts within `range`, up to `limit` places, in order.
    func offsets(of needle: [UInt8], in range: Range<Int>, limit: Int) -> [Int] {
        var found = [Int]()
        search(range, for: [needle]) { _, at in
            found.append(at)
            return found.count < limit
        }
        return found
    }

    /// Which of `needles` occur somewhere in `range` (their indexes).
    func contains(_ needles: [[UInt8]], in range: Range<Int>) -> Set<Int> {
        var found = Set<Int>()
        search(range, for: needles) { index, _ in
            found.insert(index)
            return found.count < needles.count
        }
        return found
    }

    /// Streams `range` through one reused buffer; consecutive chunks overlap
    /// by the longest needle less one byte so no match is cut in two. Each
    /// match is reported once, in file order per needle; `hit` returns false to stop.
    private func search(_ range: Range<Int>, for needles: [[UInt8]], hit: (Int, Int) -> Bool) {
        let longest = needles.map(\.count).max() ?? 0
        let end = min(range.upperBound, size)
        guard longest > 0, range.lowerBound >= 0, end - range.lowerBound >= longest else { return }
        let overlap = longest - 1
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize + overlap)
        var reported = [Int](repeating: range.lowerBound - 1, count: needles.count)
        var offset = range.lowerBound
        buffer.withUnsafeMutableBytes { raw in
            while offset < end {
                let count = min(raw.count, end - offset)
                let got = readFully(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]), at: offset)
                guard got >= longest || (got > 0 && offset + got == end) else { return }
                for (index, needle) in needles.enumerated() {
                    var from = 0
                    while let at = Self.find(needle, in: UnsafeRawBufferPointer(rebasing: raw[from..<got])) {
                        let fileOffset = offset + from + at
                        from += at + 1
                        guard fileOffset > reported[index] else { continue } // seen in the overlap already
                        reported[index] = fileOffset
                        guard hit(index, fileOffset) else { return }
                    }
                }
                guard offset + got < end else { return }
                offset += got - overlap
            }
        }
    }

    /// memchr for the first byte, then a compare (glibc's memmem is not
    /// exported to Swift): fast on binaries, where these first bytes are rare.
    private static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let base = haystack.baseAddress, !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let last = haystack.count - needle.count
        var offset = 0
        return needle.withUnsafeBytes { n -> Int? in
            while offset <= last {
                guard let hit = memchr(base + offset, Int32(needle[0]), last - offset + 1) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, n.baseAddress!, needle.count) == 0 { return at }
                offset = at + 1
            }
            return nil
        }
    }

    /// pread until `buffer` is full or the file ends; how many bytes came.
    private func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return done
    }
}
