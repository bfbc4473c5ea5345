import Glibc
import XCTest
@testable import L7Capture

/// What the user is told, and which files get probes, as processes come
/// and go — with /proc and the attach replaced by a scripted world.
final class TLSDiscoveryTests: XCTestCase {
    private let libssl = MappedFile(path: "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                                    identity: FileIdentity(device: "fe:00", inode: 333668))
    private let gnutls = MappedFile(path: "/usr/lib/x86_64-linux-gnu/libgnutls.so.30",
                                    identity: FileIdentity(device: "fe:00", inode: 4000))
    private let libc = MappedFile(path: "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                  identity: FileIdentity(device: "fe:00", inode: 12))

    private final class World {
        var maps: [UInt32: [MappedFile]] = [:]
        var exes: [UInt32: MappedFile] = [:]
        var scans: [String: ExecutableScan] = [:]
        var markers: [String: ExecutableMarkers] = [:]
        var searched: [String] = []
        var attachResult: [String: Int32] = [:]
        var attached: [String] = []
        var lines: [String] = []
    }

    private func discovery(_ world: World) -> TLSDiscovery {
        let environment = TLSDiscovery.Environment(
            mappedFiles: { pid in (world.maps[pid] ?? []) + (world.exes[pid].map { [$0] } ?? []) },
            executablePath: { world.exes[$0]?.path },
            executableName: { pid in world.exes[pid].map { String($0.fileName) } },
            scanExecutable: { path in world.scans[path] },
            searchExecutable: { path in
                world.searched.append(path)
                return world.markers[path]
            },
            attachSSL: { path in
                world.attached.append(path)
                return world.attachResult[path] ?? -2
            },
            report: { world.lines.append($0) })
        return TLSDiscovery(environment: environment, selfPid: 1)
    }

    private func exe(_ name: String, inode: UInt64) -> MappedFile {
        MappedFile(path: "/usr/bin/\(name)", identity: FileIdentity(device: "fe:00", inode: inode))
    }

    func testALibraryMappedByManyProcessesIsAttachedOnceWithOneLine() {
        let world = World()
        world.attachResult["/proc/10/root/usr/lib/x86_64-linux-gnu/libssl.so.3"] = 15
        for pid: UInt32 in [10, 11, 12] {
            world.maps[pid] = [libc, libssl]
            world.exes[pid] = exe("curl", inode: 77)
        }
        let d = discovery(world)
        d.scan([10, 11, 12])
        XCTAssertEqual(world.attached, ["/proc/10/root/usr/lib/x86_64-linux-gnu/libssl.so.3"])
        XCTAssertEqual(world.lines, ["l7trace: attached TLS probes to /usr/lib/x86_64-linux-gnu/libssl.so.3"
                                     + " (SSL_read, SSL_write, SSL_read_ex, SSL_write_ex)"])
    }

    func testAProcessThatLoadsLibsslAfterExecIsFoundByALaterLook() {
        let world = World()
        world.attachResult["/proc/20/root/usr/lib/x86_64-linux-gnu/libssl.so.3"] = 3
        world.maps[20] = [libc]
        world.exes[20] = exe("python3", inode: 78)
        let d = discovery(world)
        d.processStarted(20, nowNs: 1_000)
        d.runPending(nowNs: 1_000)
        XCTAssertTrue(world.lines.isEmpty)

        world.maps[20] = [libc, libssl] // import ssl → dlopen
        d.runPending(nowNs: 1_000 + TLSDiscovery.rescanDelaysNs[0])
        XCTAssertEqual(world.lines, ["l7trace: attached TLS probes to /usr/lib/x86_64-linux-gnu/libssl.so.3 (SSL_read, SSL_write)"])
    }

    func testTLSItCannotSeeIsToldOncePerExecutableAtTheFirstTracedConnection() {
        let world = World()
        for pid: UInt32 in [30, 31] {
            world.maps[pid] = [libc, gnutls]
            world.exes[pid] = exe("gnutls-cli", inode: 79)
        }
        let d = discovery(world)
        d.scan([30, 31])
        XCTAssertTrue(world.lines.isEmpty, "no connection selected yet: nothing to say")

        d.connectionOpened(by: 30)
        d.connectionOpened(by: 30)
        d.connectionOpened(by: 31)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.lines, ["l7trace: warning: pid 30 (gnutls-cli) uses GnuTLS (libgnutls.so.30),"
                                     + " whose TLS l7trace cannot see: its encrypted requests give no spans"])
        XCTAssertTrue(world.attached.isEmpty)
    }

    func testAShortLivedClientGoneBeforeItsConnectionIsLookedAtIsStillNamed() {
        let world = World()
        world.maps[35] = [] // at exec the loader has mapped nothing yet
        world.exes[35] = exe("gnutls-cli", inode: 85)
        var scan = ExecutableScan()
        scan.tlsLibraryNames = ["libgnutls.so.30"]
        world.scans["/proc/35/root/usr/bin/gnutls-cli"] = scan
        let d = discovery(world)
        d.processStarted(35, nowNs: 0)
        d.runPending(nowNs: 0)
        // Connected, then exited, all within one ring-buffer batch.
        world.exes[35] = nil
        d.connectionOpened(by: 35)
        d.processExited(35)
        d.runPending(nowNs: 1)
        XCTAssertEqual(world.lines, ["l7trace: warning: pid 35 (gnutls-cli) uses GnuTLS (libgnutls.so.30),"
                                     + " whose TLS l7trace cannot see: its encrypted requests give no spans"])
    }

    func testAnExecutableLinkingLibsslIsNotProbedItselfBeforeTheLoaderMapsIt() {
        let world = World()
        world.maps[36] = []
        world.exes[36] = exe("nginx", inode: 86)
        var scan = ExecutableScan()
        scan.tlsLibraryNames = ["libssl.so.3"]
        world.scans["/proc/36/root/usr/bin/nginx"] = scan
        world.markers["/proc/36/root/usr/bin/nginx"] = ExecutableMarkers(hasOpenSSLVersion: true)
        let d = discovery(world)
        d.processStarted(36, nowNs: 0)
        d.connectionOpened(by: 36)
        d.runPending(nowNs: 0)
        XCTAssertTrue(world.attached.isEmpty)
        XCTAssertTrue(world.lines.isEmpty)
        XCTAssertTrue(world.searched.isEmpty, "its libssl says all: its bytes need no search")
    }

    func testGoAndStrippedOpenSSLExecutablesAreNamed() {
        let world = World()
        world.maps[40] = [libc]
        world.exes[40] = exe("goserver", inode: 80)
        var go = ExecutableScan()
        go.isGo = true
        world.scans["/proc/40/root/usr/bin/goserver"] = go
        world.markers["/proc/40/root/usr/bin/goserver"] = ExecutableMarkers(hasGoCryptoTLS: true)
        world.maps[41] = [libc]
        world.exes[41] = exe("static-openssl", inode: 81)
        world.markers["/proc/41/root/usr/bin/static-openssl"] = ExecutableMarkers(hasOpenSSLVersion: true)
        let d = discovery(world)
        d.connectionOpened(by: 40)
        d.connectionOpened(by: 41)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.lines.count, 2)
        XCTAssertTrue(world.lines[0].contains("pid 40 (goserver) uses Go crypto/tls"))
        XCTAssertTrue(world.lines[1].contains("pid 41 (static-openssl) uses OpenSSL linked in without symbols"))
    }

    func testAnExecutableDefiningSSLReadGetsTheProbesAndNoWarning() {
        let world = World()
        world.maps[50] = [libc]
        world.exes[50] = exe("envoy", inode: 82)
        var scan = ExecutableScan()
        scan.definesSSLRead = true
        world.scans["/proc/50/root/usr/bin/envoy"] = scan
        world.markers["/proc/50/root/usr/bin/envoy"] = ExecutableMarkers(hasOpenSSLVersion: true)
        world.attachResult["/proc/50/root/usr/bin/envoy"] = 15
        let d = discovery(world)
        d.connectionOpened(by: 50)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.lines, ["l7trace: attached TLS probes to /usr/bin/envoy (SSL_read, SSL_write, SSL_read_ex, SSL_write_ex)"])
    }

    func testAnExecutableImportingSSLReadFromLibsslIsNotProbedItself() {
        let world = World()
        world.maps[60] = [libc, libssl]
        world.exes[60] = exe("nginx", inode: 83)
        world.scans["/proc/60/root/usr/bin/nginx"] = ExecutableScan() // imports SSL_read: defines nothing
        world.markers["/proc/60/root/usr/bin/nginx"] = ExecutableMarkers(hasOpenSSLVersion: true) // "built with OpenSSL 3.0.x"
        world.attachResult["/proc/60/root/usr/lib/x86_64-linux-gnu/libssl.so.3"] = 15
        let d = discovery(world)
        d.connectionOpened(by: 60)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.attached, ["/proc/60/root/usr/lib/x86_64-linux-gnu/libssl.so.3"])
        XCTAssertEqual(world.lines.count, 1)
    }

    func testAProgramStartingWithoutATracedConnectionIsNotSearched() {
        let world = World()
        world.maps[65] = [libc]
        world.exes[65] = exe("cc1plus", inode: 87)
        world.scans["/proc/65/root/usr/bin/cc1plus"] = ExecutableScan()
        let d = discovery(world)
        d.processStarted(65, nowNs: 0)
        for delay in [0] + TLSDiscovery.rescanDelaysNs { d.runPending(nowNs: delay) }
        XCTAssertTrue(world.searched.isEmpty, "only its headers are read: the search follows the file's size")
        XCTAssertTrue(world.lines.isEmpty)
    }

    func testUnselectedProcessesAreNotLookedAt() {
        let world = World()
        world.maps[70] = [libc, libssl, gnutls]
        world.exes[70] = exe("other", inode: 84)
        let d = discovery(world)
        d.isSelected = { _ in false }
        d.scan([70])
        d.connectionOpened(by: 70)
        d.runPending(nowNs: 0)
        XCTAssertTrue(world.attached.isEmpty)
        XCTAssertTrue(world.lines.isEmpty)
    }
}

final class ProcessMapsTests: XCTestCase {
    func testMapsGiveEachFileOnceWithItsDeviceAndInode() {
        let text = """
        55d4c0a00000-55d4c0a28000 r--p 00000000 fe:00 1311 /usr/sbin/nginx
        55d4c0a28000-55d4c0b0e000 r-xp 00028000 fe:00 1311 /usr/sbin/nginx
        55d4c1e6c000-55d4c1f2e000 rw-p 00000000 00:00 0                          [heap]
        7f6152a66000-7f6152a85000 r--p 00000000 fe:00 333668                     /usr/lib/x86_64-linux-gnu/libssl.so.3
        7f6152a85000-7f6152ae2000 r-xp 0001f000 fe:00 333668                     /usr/lib/x86_64-linux-gnu/libssl.so.3
        7f6152b10000-7f6152b11000 r--p 00000000 fe:00 999                        /tmp/my lib/libx.so (deleted)
        7f6152b20000-7f6152b21000 r--p 00000000 fe:00 998                        /tmp/my lib/liby.so
        7ffd5b5f1000-7ffd5b5f3000 r-xp 00000000 00:00 0                          [vdso]
        """
        let files = ProcessMaps.parse(Array(text.utf8))
        XCTAssertEqual(files.map(\.path), ["/usr/sbin/nginx", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/tmp/my lib/liby.so"])
        XCTAssertEqual(files[1].identity, FileIdentity(device: "fe:00", inode: 333668))
        XCTAssertEqual(files[1].fileName, "libssl.so.3")
    }

    func testAFileFoundOnDiskHasTheIdentityItHasInMaps() throws {
        let mapped = try XCTUnwrap(ProcessMaps.files(of: UInt32(getpid())).first { $0.path.contains(".so") })
        var status = stat()
        XCTAssertEqual(stat(mapped.path, &status), 0)
        XCTAssertEqual(FileIdentity(device: Capture.deviceText(UInt64(status.st_dev)), inode: UInt64(status.st_ino)),
                       mapped.identity)
    }

    func testOnlyOpenSSLsLibsslIsProbedAndOtherStacksAreNamed() {
        XCTAssertEqual(TLSStack.ofLibrary(named: "libssl.so.3"), .openSSLLibrary)
        XCTAssertEqual(TLSStack.ofLibrary(named: "libssl.so.1.1"), .openSSLLibrary)
        XCTAssertEqual(TLSStack.ofLibrary(named: "libssl3.so"), .invisible(InvisibleTLS("NSS", "libssl3.so")))
        XCTAssertEqual(TLSStack.ofLibrary(named: "libgnutls.so.30"), .invisible(InvisibleTLS("GnuTLS", "libgnutls.so.30")))
        XCTAssertEqual(TLSStack.ofLibrary(named: "libjvm.so"), .invisible(InvisibleTLS("Java", "libjvm.so")))
        XCTAssertNil(TLSStack.ofLibrary(named: "libcrypto.so.3"))
    }
}
