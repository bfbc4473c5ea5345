import Foundation
import Glibc
import XCTest
@testable import L7Capture

/// The bounded ELF reader on real files: the system's libssl, a stripped
/// program, programs built here that define `SSL_read` themselves, and
/// truncated or corrupt files, which give a clear error and never a trap.
final class ExecutableScanTests: XCTestCase {
    private let libssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
    private var directory = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/l7trace-elf-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw XCTSkip("no temporary directory") }
        directory = String(cString: template)
    }

    override func tearDown() {
        _ = try? FileManager.default.removeItem(atPath: directory)
    }

    private func scan(_ path: String) throws -> ExecutableScan {
        try ExecutableScan.scan(path: path).get()
    }

    private func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = "\(directory)/\(name)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    private func contents(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Builds a C program here; skipped where no compiler is installed.
    private func compile(_ source: String, _ name: String, extra: [String] = []) throws -> String {
        let cc = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let cc else { throw XCTSkip("no C compiler") }
        let sourcePath = write(Array(source.utf8), "\(name).c")
        let output = "\(directory)/\(name)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cc)
        process.arguments = [sourcePath, "-o", output] + extra
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(cc) failed")
        return output
    }

    func testLibsslDefinesSSLReadInItsDynamicSymbols() throws {
        guard access(libssl, R_OK) == 0 else { throw XCTSkip("no \(libssl)") }
        let result = try scan(libssl)
        XCTAssertTrue(result.definesSSLRead)
        XCTAssertFalse(result.isGo)
        XCTAssertEqual(result.tlsLibraryNames, [], "it needs libcrypto and libc, neither a TLS library")
    }

    func testAStrippedProgramImportingSSLReadNamesLibsslAndDefinesNothing() throws {
        let openssl = "/usr/bin/openssl"
        guard access(openssl, R_OK) == 0 else { throw XCTSkip("no \(openssl)") }
        let result = try scan(openssl)
        XCTAssertEqual(result.tlsLibraryNames, ["libssl.so.3"])
        XCTAssertFalse(result.definesSSLRead, "SSL_read is an undefined (imported) symbol there")
    }

    func testAProgramWithoutASectionTableNamesItsLibrariesThroughItsSegments() throws {
        let openssl = "/usr/bin/openssl"
        guard access(openssl, R_OK) == 0 else { throw XCTSkip("no \(openssl)") }
        var bytes = try contents(openssl)
        for i in 40..<48 { bytes[i] = 0 } // e_shoff: as sstrip leaves it
        for i in 60..<64 { bytes[i] = 0 } // e_shnum, e_shstrndx
        let result = try scan(write(bytes, "sstripped"))
        XCTAssertEqual(result.tlsLibraryNames, ["libssl.so.3"])
        XCTAssertFalse(result.definesSSLRead)

        for _ in 0..<200 { // damaged program headers: an answer or an error, never a trap
            var damaged = bytes
            for _ in 0..<6 { damaged[Int.random(in: 16..<1024)] = UInt8.random(in: 0...255) }
            _ = ExecutableScan.scan(path: write(damaged, "sstripped-damaged"))
        }
    }

    func testAProgramDefiningSSLReadItselfIsFoundThroughItsFullSymbolTable() throws {
        let source = """
        int SSL_read(void *ssl, void *buffer, int count) { return count; }
        int main(int argc, char **argv) { return SSL_read(0, argv, argc) - argc; }
        """
        let program = try compile(source, "static-ssl", extra: ["-no-pie"])
        XCTAssertTrue(try scan(program).definesSSLRead, "in .symtab only: a program exports nothing to .dynsym")

        let stripped = try compile(source, "static-ssl-stripped", extra: ["-no-pie", "-s"])
        XCTAssertFalse(try scan(stripped).definesSSLRead, "stripped: nothing left to attach to")
    }

    func testANameSharingItsTailWithSSLReadIsNotIt() throws {
        let source = """
        int MY_SSL_read_ex(int n) { return n; }
        int xSSL_read_helper(int n) { return n; }
        int main(int argc, char **argv) { return MY_SSL_read_ex(argc) - xSSL_read_helper(argc); }
        """
        XCTAssertFalse(try scan(try compile(source, "lookalike")).definesSSLRead)
    }

    func testATruncatedFileGivesAClearError() throws {
        guard access(libssl, R_OK) == 0 else { throw XCTSkip("no \(libssl)") }
        let head = Array(try contents(libssl).prefix(4096))
        XCTAssertEqual(ExecutableScan.scan(path: write(head, "truncated.so")).failure, .truncated("section table"))
        XCTAssertEqual(ExecutableScan.scan(path: write(Array(head.prefix(10)), "tiny")).failure, .truncated("identification"))
        XCTAssertEqual("\(ELFError.truncated("section table"))", "truncated ELF: the file ends inside its section table")
    }

    func testCorruptFilesGiveAnErrorAndNeverTrap() throws {
        XCTAssertEqual(ExecutableScan.scan(path: write(Array("#!/bin/sh\necho hi\n".utf8), "script")).failure, .notELF)
        XCTAssertEqual(ExecutableScan.scan(path: directory).failure, .notELF)
        XCTAssertEqual(ExecutableScan.scan(path: "\(directory)/missing").failure, .cannotOpen(errno: ENOENT))

        guard access(libssl, R_OK) == 0 else { throw XCTSkip("no \(libssl)") }
        let original = try contents(libssl)
        var huge = original
        huge[60] = 0xfe; huge[61] = 0xff // e_shnum
        XCTAssertEqual(ExecutableScan.scan(path: write(huge, "many-sections")).failure, .tooLarge("section table (65534 sections)"))
        var beyond = original
        for i in 40..<48 { beyond[i] = 0x7f } // e_shoff far past the end
        XCTAssertEqual(ExecutableScan.scan(path: write(beyond, "far")).failure, .truncated("section table"))
        var bigEndian = original
        bigEndian[5] = 2
        XCTAssertEqual(ExecutableScan.scan(path: write(bigEndian, "be")).failure, .unsupported("big-endian"))

        // Random damage anywhere in the headers and tables: an answer or an error, never a trap.
        var generator = SystemRandomNumberGenerator()
        let headersEnd = min(original.count, 64 << 10)
        for round in 0..<300 {
            var damaged = original
            for _ in 0..<8 {
                let at = round % 2 == 0 ? Int.random(in: 0..<64, using: &generator)
                                        : Int.random(in: (original.count - 8192)..<original.count, using: &generator)
                damaged[at] = UInt8.random(in: 0...255, using: &generator)
            }
            if round % 3 == 0 { damaged[Int.random(in: 0..<headersEnd, using: &generator)] ^= 0xff }
            _ = ExecutableScan.scan(path: write(damaged, "damaged"))
        }
    }

    func testMarkersAreFoundAcrossTheBoundaryOfTheReadBuffer() throws {
        let chunk = BoundedFileReader.chunkSize
        var bytes = [UInt8](repeating: 0x20, count: chunk * 2 + 1000)
        let version = Array("OpenSSL 3.0.19".utf8)
        bytes.replaceSubrange((chunk - 4)..<(chunk - 4 + version.count), with: version)
        let markers = try XCTUnwrap(ExecutableMarkers.search(path: write(bytes, "straddling")))
        XCTAssertTrue(markers.hasOpenSSLVersion)
        XCTAssertFalse(markers.hasGoCryptoTLS)

        let go = Array("....crypto/tls.(*Conn).Read....".utf8)
        let goMarkers = try XCTUnwrap(ExecutableMarkers.search(path: write(go, "go")))
        XCTAssertEqual(goMarkers, ExecutableMarkers(hasGoCryptoTLS: true))
    }

    func testNeedleOffsetsAreEachReportedOnceInFileOrder() throws {
        let chunk = BoundedFileReader.chunkSize
        var bytes = [UInt8](repeating: 0, count: chunk * 3)
        let name = Array("SSL_read\0".utf8)
        let places = [10, chunk - 3, chunk + 100, 2 * chunk - 9]
        for at in places { bytes.replaceSubrange(at..<(at + name.count), with: name) }
        let file = try BoundedFileReader(path: write(bytes, "strings"))
        XCTAssertEqual(file.offsets(of: name, in: 0..<file.size, limit: 64), places)
        XCTAssertEqual(file.offsets(of: name, in: 0..<file.size, limit: 2), Array(places.prefix(2)))
    }
}

private extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
