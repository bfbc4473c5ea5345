/// The parts of an ELF file the TLS scan needs — its section table, the
/// libraries it names (DT_NEEDED) and whether it defines a function —
/// each read with bounded reads: the cost follows the size of the headers
/// and symbol tables, never of the code and data (a 200 MB program is read
/// for ~10 KB of headers when it has no symbols).
struct ELFImage {
    struct Section {
        var name: String
        var type: UInt32
        var offset: Int
        var size: Int
        var link: Int
        var entrySize: Int

        var range: Range<Int> { offset..<(offset + size) }
    }

    static let symbolTable: UInt32 = 2, stringTable: UInt32 = 3, dynamic: UInt32 = 6, noBits: UInt32 = 8, dynamicSymbols: UInt32 = 11
    /// More sections than any linker writes for an executable (64 B each: 1 MiB).
    static let maxSections = 16_384
    static let maxDynamicEntries = 65_536

    static let maxSegments = 4_096

    let is64: Bool
    let sections: [Section]
    private let file: BoundedFileReader
    private let header: Fields

    init(_ file: BoundedFileReader) throws {
        self.file = file
        let ident = try file.bytes(at: 0, count: 16, "identification")
        guard ident[0..<4] == [0x7f, 0x45, 0x4c, 0x46] else { throw ELFError.notELF }
        guard ident[5] == 1 else { throw ELFError.unsupported("big-endian") }
        guard ident[4] == 1 || ident[4] == 2 else { throw ELFError.unsupported("class \(ident[4])") }
        let is64 = ident[4] == 2
        self.is64 = is64
        let header = Fields(try file.bytes(at: 0, count: is64 ? 64 : 52, "header"))
        self.header = header
        let sectionsAt = is64 ? header.u64(40) : header.u32(32)
        let entrySize = header.u16(is64 ? 58 : 46)
        var count = header.u16(is64 ? 60 : 48)
        var namesIndex = header.u16(is64 ? 62 : 50)
        guard sectionsAt != 0 else { sections = []; return } // sstrip'd: no section table
        guard entrySize >= (is64 ? 64 : 40) else { throw ELFError.unsupported("section header size \(entrySize)") }
        if count == 0 || namesIndex == 0xffff { // the real figures live in section 0
            let first = Self.section(Fields(try file.bytes(at: sectionsAt, count: entrySize, "section table")), is64: is64)
            if count == 0 { count = first.section.size }
            if namesIndex == 0xffff { namesIndex = first.section.link }
        }
        guard count <= Self.maxSections else { throw ELFError.tooLarge("section table (\(count) sections)") }
        let table = try file.bytes(at: sectionsAt, count: count * entrySize, "section table")
        var sections = (0..<count).map { i in
            Self.section(Fields(Array(table[(i * entrySize)..<((i + 1) * entrySize)])), is64: is64)
        }
        if namesIndex > 0 && namesIndex < count && sections[namesIndex].section.type != Self.noBits {
            let names = sections[namesIndex].section
            let text = try file.bytes(at: names.offset, count: names.size, "section names")
            for i in sections.indices { sections[i].section.name = Self.string(in: text, at: Int(sections[i].nameOffset)) }
        }
        self.sections = sections.map { $0.section }
    }

    /// The DT_NEEDED names of the dynamic section (`libssl.so.3`).
    func neededLibraries() throws -> [String] {
        if let dynamic = sections.first(where: { $0.type == Self.dynamic }), dynamic.link < sections.count {
            return try neededNames(try dynamicEntries(dynamic.range), strings: sections[dynamic.link].range)
        }
        return try neededLibrariesFromSegments()
    }

    /// Without a section table (sstrip'd files), the loader's own view: the
    /// PT_DYNAMIC segment, and its strings found through DT_STRTAB's address
    /// in the PT_LOAD segment that holds it.
    private func neededLibrariesFromSegments() throws -> [String] {
        let tableAt = is64 ? header.u64(32) : header.u32(28)
        let entrySize = header.u16(is64 ? 54 : 42), count = header.u16(is64 ? 56 : 44)
        guard tableAt != 0, count > 0 else { return [] }
        guard entrySize >= (is64 ? 56 : 32) else { throw ELFError.unsupported("program header size \(entrySize)") }
        guard count <= Self.maxSegments else { throw ELFError.tooLarge("program headers (\(count) segments)") }
        let table = try file.bytes(at: tableAt, count: count * entrySize, "program headers")
        var loads: [(address: Int, offset: Int, size: Int)] = []
        var dynamic: Range<Int>?
        for i in 0..<count {
            let f = Fields(Array(table[(i * entrySize)..<((i + 1) * entrySize)]))
            let offset = is64 ? f.u64(8) : f.u32(4), address = is64 ? f.u64(16) : f.u32(8)
            let size = is64 ? f.u64(32) : f.u32(16)
            switch f.u32(0) {
            case 1: loads.append((address, offset, size)) // PT_LOAD
            case 2: dynamic = offset..<(offset + size) // PT_DYNAMIC
            default: break
            }
        }
        guard let dynamic else { return [] }
        let entries = try dynamicEntries(dynamic)
        guard let address = entries.first(where: { $0.tag == 5 })?.value, // DT_STRTAB
              let size = entries.first(where: { $0.tag == 10 })?.value, // DT_STRSZ
              let load = loads.first(where: { $0.address <= address && address < $0.address + $0.size }) else { return [] }
        let offset = address - load.address + load.offset
        return try neededNames(entries, strings: offset..<(offset + min(size, load.address + load.size - address)))
    }

    private func dynamicEntries(_ range: Range<Int>) throws -> [(tag: Int, value: Int)] {
        let entrySize = is64 ? 16 : 8
        guard range.count / entrySize <= Self.maxDynamicEntries else { throw ELFError.tooLarge("dynamic section") }
        let raw = Fields(try file.bytes(at: range.lowerBound, count: range.count / entrySize * entrySize, "dynamic section"))
        var entries: [(tag: Int, value: Int)] = []
        for at in stride(from: 0, to: raw.count, by: entrySize) {
            let tag = is64 ? raw.u64(at) : raw.u32(at)
            if tag == 0 { break } // DT_NULL
            entries.append((tag, is64 ? raw.u64(at + 8) : raw.u32(at + 4)))
        }
        return entries
    }

    private func neededNames(_ entries: [(tag: Int, value: Int)], strings: Range<Int>) throws -> [String] {
        try entries.filter { $0.tag == 1 }.map { entry in // DT_NEEDED
            guard entry.value < strings.count else { throw ELFError.truncated("dynamic string table") }
            let text = file.prefix(at: strings.lowerBound + entry.value, limit: min(256, strings.count - entry.value))
            return Self.string(in: text, at: 0)
        }
    }

    /// Whether a symbol table (dynamic or full) defines function `name`: a
    /// file that merely imports it (from libssl) does not. Streams each table
    /// and its strings in chunks: memory stays one chunk for any table.
    func definesFunction(_ name: String) throws -> Bool {
        let needle = Array(name.utf8) + [0]
        for table in sections where table.type == Self.symbolTable || table.type == Self.dynamicSymbols {
            guard table.link < sections.count, sections[table.link].type == Self.stringTable else { continue }
            let strings = sections[table.link]
            guard strings.range.upperBound <= file.size else { throw ELFError.truncated("symbol names") }
            // Linkers share tails ("SSL_read" inside "xSSL_read"): any match is a name.
            let nameOffsets = Set(file.offsets(of: needle, in: strings.range, limit: 64).map { $0 - strings.offset })
            guard !nameOffsets.isEmpty else { continue }
            let entrySize = is64 ? 24 : 16
            var defined = false
            try file.forEachChunk(of: table.range, unit: entrySize, "symbol table") { chunk in
                let symbols = Fields(chunk)
                for at in stride(from: 0, to: chunk.count, by: entrySize) {
                    guard nameOffsets.contains(symbols.u32(at)) else { continue }
                    let info = symbols.byte(at + (is64 ? 4 : 12))
                    let sectionIndex = symbols.u16(at + (is64 ? 6 : 14))
                    let type = info & 0xf // STT_FUNC 2, STT_GNU_IFUNC 10
                    if sectionIndex != 0 && (type == 2 || type == 10) { defined = true; return false }
                }
                return true
            }
            if defined { return true }
        }
        return false
    }

    func hasSection(named name: String) -> Bool { sections.contains { $0.name == name } }

    // MARK: - Fields

    private struct RawSection {
        var nameOffset: UInt32
        var section: Section
    }

    private static func section(_ f: Fields, is64: Bool) -> RawSection {
        let section = is64
            ? Section(name: "", type: UInt32(f.u32(4)), offset: f.u64(24), size: f.u64(32), link: f.u32(40), entrySize: f.u64(56))
            : Section(name: "", type: UInt32(f.u32(4)), offset: f.u32(16), size: f.u32(20), link: f.u32(24), entrySize: f.u32(36))
        return RawSection(nameOffset: UInt32(f.u32(0)), section: section)
    }

    /// The NUL-terminated string at `offset` (to the end when unterminated).
    private static func string(in bytes: [UInt8], at offset: Int) -> String {
        guard offset >= 0, offset < bytes.count else { return "" }
        let end = bytes[offset...].firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    /// Little-endian fields of a record read whole (an out-of-range field
    /// reads as 0, never traps). A 64-bit field beyond 2 GiB reads as
    /// Int32.max, which the file-size checks then reject: sums of a few
    /// fields never overflow, whatever the file says.
    struct Fields {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var count: Int { bytes.count }

        func byte(_ at: Int) -> UInt8 { at >= 0 && at < bytes.count ? bytes[at] : 0 }
        func u16(_ at: Int) -> Int { Int(byte(at)) | Int(byte(at + 1)) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> Int { u32(at + 4) == 0 ? min(u32(at), Int(Int32.max)) : Int(Int32.max) }
    }
}
