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

    func testUnreadableTLSIsToldOncePerExecutableWhenAConnectionShowsIt() {
        let world = World()
        for pid: UInt32 in [30, 31] {
            world.maps[pid] = [libc, gnutls]
            world.exes[pid] = exe("gnutls-cli", inode: 79)
        }
        let d = discovery(world)
        d.scan([30, 31])
        d.connectionOpened(by: 30)
        d.connectionOpened(by: 31)
        d.runPending(nowNs: 0)
        XCTAssertTrue(world.lines.isEmpty, "mapping GnuTLS says nothing about what the connections speak")

        d.connectionUnreadable(pid: 30, port: 443)
        d.connectionUnreadable(pid: 30, port: 443)
        d.connectionUnreadable(pid: 31, port: 8443)
        d.runPending(nowNs: 1)
        XCTAssertEqual(world.lines, ["l7trace: warning: gnutls-cli (pid 30) speaks TLS on port 443 that l7trace cannot read"
                                     + " (GnuTLS (libgnutls.so.30)): its encrypted requests give no spans"])
        XCTAssertTrue(world.attached.isEmpty)
    }

    func testCurlMappingGnuTLSBesideLibsslGetsNoWarningForItsConnections() {
        let world = World()
        world.maps[32] = [libc, libssl, gnutls] // Debian's curl: librtmp brings libgnutls in
        world.exes[32] = exe("curl", inode: 90)
        world.attachResult["/proc/32/root/usr/lib/x86_64-linux-gnu/libssl.so.3"] = 15
        let d = discovery(world)
        d.processStarted(32, nowNs: 0)
        d.connectionOpened(by: 32)
        for delay in [0] + TLSDiscovery.rescanDelaysNs { d.runPending(nowNs: delay) }
        XCTAssertEqual(world.lines, ["l7trace: attached TLS probes to /usr/lib/x86_64-linux-gnu/libssl.so.3"
                                     + " (SSL_read, SSL_write, SSL_read_ex, SSL_write_ex)"])
        XCTAssertTrue(world.searched.isEmpty)
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
        // Connected, spoke, exited, all within one ring-buffer batch.
        world.exes[35] = nil
        d.connectionOpened(by: 35)
        d.connectionUnreadable(pid: 35, port: 443)
        d.processExited(35)
        d.runPending(nowNs: 1)
        XCTAssertEqual(world.lines, ["l7trace: warning: gnutls-cli (pid 35) speaks TLS on port 443 that l7trace cannot read"
                                     + " (GnuTLS (libgnutls.so.30)): its encrypted requests give no spans"])
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

    func testGoAndStrippedOpenSSLExecutablesAreNamedOnlyWhenAConnectionIsUnreadable() {
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
        XCTAssertTrue(world.lines.isEmpty, "net/http links crypto/tls into every Go program, plaintext or not")
        XCTAssertTrue(world.searched.isEmpty)

        d.connectionUnreadable(pid: 40, port: 8443)
        d.connectionUnreadable(pid: 41, port: nil)
        d.runPending(nowNs: 1)
        XCTAssertEqual(world.lines, [
            "l7trace: warning: goserver (pid 40) speaks TLS on port 8443 that l7trace cannot read (Go crypto/tls):"
                + " its encrypted requests give no spans",
            "l7trace: warning: static-openssl (pid 41) speaks TLS that l7trace cannot read (OpenSSL linked in without symbols):"
                + " its encrypted requests give no spans",
        ])
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

    func testNodeWithOpenSSLInsideAndMemoryBIOsIsNamedWhenItsConnectionIsUnreadable() {
        let world = World()
        world.maps[55] = [libc]
        world.exes[55] = exe("node", inode: 91)
        var scan = ExecutableScan()
        scan.definesSSLRead = true
        world.scans["/proc/55/root/usr/bin/node"] = scan
        world.attachResult["/proc/55/root/usr/bin/node"] = 15
        let d = discovery(world)
        d.connectionOpened(by: 55)
        d.connectionUnreadable(pid: 55, port: 8443)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.lines.last, "l7trace: warning: node (pid 55) speaks TLS on port 8443 that l7trace cannot read"
                       + " (OpenSSL inside the executable, through memory BIOs):"
                       + " its encrypted requests give no spans")
    }

    func testGrpcioIsNamedByItsExtensionModule() {
        let world = World()
        let cygrpc = MappedFile(path: "/usr/lib/python3/site-packages/grpc/_cython/cygrpc.cpython-311-x86_64-linux-gnu.so",
                                identity: FileIdentity(device: "fe:00", inode: 5000))
        world.maps[56] = [libc, libssl, cygrpc]
        world.exes[56] = exe("python3", inode: 92)
        let d = discovery(world)
        d.connectionUnreadable(pid: 56, port: 50051)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.lines.last, "l7trace: warning: python3 (pid 56) speaks TLS on port 50051 that l7trace cannot read"
                       + " (BoringSSL in grpcio (cygrpc.cpython-311-x86_64-linux-gnu.so)):"
                       + " its encrypted requests give no spans")
    }

    func testAsyncioOverAProbedLibsslIsToldOfMemoryBIOs() {
        let world = World()
        world.maps[58] = [libc, libssl]
        world.exes[58] = exe("python3", inode: 94)
        world.attachResult["/proc/58/root/usr/lib/x86_64-linux-gnu/libssl.so.3"] = 15
        let d = discovery(world)
        d.scan([58])
        d.connectionUnreadable(pid: 58, port: 8443)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.lines.last, "l7trace: warning: python3 (pid 58) speaks TLS on port 8443 that l7trace cannot read"
                       + " (OpenSSL through memory BIOs): its encrypted requests give no spans")
    }

    func testAProcessWithNothingKnownIsToldOfAnUnknownTLSLibrary() {
        let world = World()
        world.maps[57] = [libc]
        world.exes[57] = exe("mystery", inode: 93)
        let d = discovery(world)
        d.connectionUnreadable(pid: 57, port: 9000)
        d.runPending(nowNs: 0)
        XCTAssertEqual(world.lines, ["l7trace: warning: mystery (pid 57) speaks TLS on port 9000 that l7trace cannot read"
                                     + " (unknown TLS library): its encrypted requests give no spans"])
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
        XCTAssertTrue(world.searched.isEmpty)
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
        XCTAssertEqual(TLSStack.ofLibrary(named: "cygrpc.cpython-311-x86_64-linux-gnu.so"),
                       .invisible(InvisibleTLS("BoringSSL in grpcio", "cygrpc.cpython-311-x86_64-linux-gnu.so")))
        XCTAssertNil(TLSStack.ofLibrary(named: "libcrypto.so.3"))
    }
}
