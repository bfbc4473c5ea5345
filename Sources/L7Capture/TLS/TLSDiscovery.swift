/// Finds the TLS libraries of traced processes and attaches the OpenSSL
/// probes to each file once; tells the user, once per executable, when a
/// traced process carries TLS that no probe of ours can see.
///
/// When it looks: every selected process at start; a process after exec,
/// then again a few times while its loader and `dlopen` (Python's `ssl`)
/// bring libraries in; and at a process's first traced connection, which is
/// also when the "cannot see" line is given — a connection the user selected
/// is what makes the missing spans matter.
///
/// All I/O goes through `Environment`, so the decisions are unit-tested.
final class TLSDiscovery {
    struct Environment {
        /// The files mapped by a process (/proc/PID/maps).
        var mappedFiles: (UInt32) -> [MappedFile]
        /// /proc/PID/exe's target.
        var executablePath: (UInt32) -> String?
        /// The executable's name, for messages.
        var executableName: (UInt32) -> String?
        /// Reads a file's ELF headers (path reachable from the tracer).
        var scanExecutable: (String) -> ExecutableScan?
        /// Searches a whole file's bytes: only when a warning may be due.
        var searchExecutable: (String) -> ExecutableMarkers?
        /// Attaches the OpenSSL probes to a file: L7_SSL_* bits, or a negative errno.
        var attachSSL: (String) -> Int32
        /// One line for the user.
        var report: (String) -> Void
    }

    /// Delays after exec at which the process is looked at again (ns).
    static let rescanDelaysNs: [UInt64] = [50_000_000, 300_000_000, 1_000_000_000, 3_000_000_000]

    var isSelected: (UInt32) -> Bool = { _ in true }
    private let environment: Environment
    private let selfPid: UInt32

    /// Files already given probes (or found to have none to give).
    private var probedFiles: [FileIdentity: Bool] = [:]
    private var scannedExecutables: [FileIdentity: ExecutableScan] = [:]
    private var searchedExecutables: [FileIdentity: ExecutableMarkers] = [:]
    private var warnedExecutables = Set<FileIdentity>()
    /// Processes that had a traced connection since their last exec.
    private var connected = Set<UInt32>()
    /// Each process's executable as last seen: a short-lived process may be
    /// gone when its first connection is looked at.
    private var executables: [UInt32: MappedFile] = [:]
    private var exited: [UInt32] = []
    private var rescans: [(dueNs: UInt64, pid: UInt32)] = []
    /// Work noted while the ring buffer is drained, done after it.
    private var pendingScans: [(pid: UInt32, warn: Bool)] = []

    init(environment: Environment, selfPid: UInt32) {
        self.environment = environment
        self.selfPid = selfPid
    }

    // MARK: - Events (cheap: noted, done in `runPending`)

    func processStarted(_ pid: UInt32, nowNs: UInt64) {
        connected.remove(pid)
        rescans.removeAll { $0.pid == pid }
        pendingScans.append((pid, false))
        for delay in Self.rescanDelaysNs { rescans.append((nowNs + delay, pid)) }
    }

    func connectionOpened(by pid: UInt32) {
        guard connected.insert(pid).inserted else { return }
        pendingScans.append((pid, true))
    }

    func processExited(_ pid: UInt32) {
        connected.remove(pid)
        rescans.removeAll { $0.pid == pid }
        exited.append(pid) // forgotten after the work noted before it
    }

    /// When the earliest rescan is due, so that the poll loop can wake for it.
    var nextRescanNs: UInt64? { rescans.lazy.map(\.dueNs).min() }

    // MARK: - Work

    /// Looks at each of `pids` (the processes running at start).
    func scan(_ pids: [UInt32]) {
        for pid in pids { scan(pid, warn: false) }
    }

    /// Probes libraries no process may map yet (the system's libssl when
    /// every process is traced): a client that starts, connects and exits
    /// within a few milliseconds is then seen from its first call.
    func probeLibraries(_ files: [MappedFile]) {
        for file in files where TLSStack.ofLibrary(named: file.fileName) == .openSSLLibrary {
            probe(file, at: file.path)
        }
    }

    /// Does the scans noted since the last call and the rescans now due.
    func runPending(nowNs: UInt64) {
        if !rescans.isEmpty {
            var due = [UInt32]()
            rescans.removeAll { entry in
                guard entry.dueNs <= nowNs else { return false }
                due.append(entry.pid)
                return true
            }
            for pid in due { pendingScans.append((pid, connected.contains(pid))) }
        }
        if !pendingScans.isEmpty {
            let work = pendingScans
            pendingScans.removeAll(keepingCapacity: true)
            for (pid, warn) in work { scan(pid, warn: warn) }
        }
        if !exited.isEmpty {
            for pid in exited { executables[pid] = nil }
            exited.removeAll(keepingCapacity: true)
        }
    }

    private func scan(_ pid: UInt32, warn: Bool) {
        guard pid != selfPid, isSelected(pid) else { return }
        let files = environment.mappedFiles(pid)

        var invisible = [InvisibleTLS]()
        var hasOpenSSLLibrary = false
        for file in files {
            switch TLSStack.ofLibrary(named: file.fileName) {
            case .openSSLLibrary?:
                hasOpenSSLLibrary = true
                probe(file, at: reachablePath(file, pid: pid))
            case .invisible(let what)? where !invisible.contains(where: { $0.stack == what.stack }):
                invisible.append(what)
            case .invisible?, nil:
                break
            }
        }

        if let exePath = environment.executablePath(pid), let exe = files.first(where: { $0.path == exePath }) {
            executables[pid] = exe
        }
        guard let executable = executables[pid] else {
            if warn { warnOnce(about: nil, name: environment.executableName(pid) ?? "?", pid: pid, invisible) }
            return
        }
        let scanned = scanExecutable(executable, pid: pid)
        // Libraries the executable names but the loader may not have mapped yet.
        for name in scanned.tlsLibraryNames {
            switch TLSStack.ofLibrary(named: name[...]) {
            case .openSSLLibrary?: hasOpenSSLLibrary = true
            case .invisible(let what)? where !invisible.contains(where: { $0.stack == what.stack }):
                invisible.append(what)
            default: break
            }
        }
        var exeProbed = probedFiles[executable.identity] ?? false
        if scanned.definesSSLRead && !files.isEmpty {
            exeProbed = probe(executable, at: reachablePath(executable, pid: pid))
        }
        if warn && !warnedExecutables.contains(executable.identity) {
            // TLS inside the executable that no probe reaches: a search of
            // its bytes, paid once and only for a traced process's executable.
            let versionMatters = !hasOpenSSLLibrary && !exeProbed
            if scanned.isGo || versionMatters {
                let markers = searchExecutable(executable, pid: pid)
                if scanned.isGo && markers.hasGoCryptoTLS { invisible.append(InvisibleTLS("Go crypto/tls")) }
                if versionMatters && markers.hasOpenSSLVersion {
                    invisible.append(InvisibleTLS("OpenSSL linked in without symbols"))
                }
            }
            let name = environment.executableName(pid) ?? String(executable.fileName)
            warnOnce(about: executable.identity, name: name, pid: pid, invisible)
        }
    }

    private func scanExecutable(_ file: MappedFile, pid: UInt32) -> ExecutableScan {
        if let known = scannedExecutables[file.identity] { return known }
        let scanned = environment.scanExecutable(reachablePath(file, pid: pid)) ?? ExecutableScan()
        scannedExecutables[file.identity] = scanned
        return scanned
    }

    private func searchExecutable(_ file: MappedFile, pid: UInt32) -> ExecutableMarkers {
        if let known = searchedExecutables[file.identity] { return known }
        let found = environment.searchExecutable(reachablePath(file, pid: pid)) ?? ExecutableMarkers()
        searchedExecutables[file.identity] = found
        return found
    }

    /// Attaches to a file once; says so when it worked. Whether the file
    /// now carries probes.
    @discardableResult
    private func probe(_ file: MappedFile, at path: String) -> Bool {
        if let known = probedFiles[file.identity] { return known }
        let result = environment.attachSSL(path)
        let attached = result > 0 && result & 0b1111 != 0 // SSL_read/SSL_write or their _ex forms
        probedFiles[file.identity] = attached
        if attached {
            environment.report("l7trace: attached TLS probes to \(file.path) (\(Self.functionNames(result)))")
        }
        return attached
    }

    private func warnOnce(about executable: FileIdentity?, name: String, pid: UInt32, _ invisible: [InvisibleTLS]) {
        guard !invisible.isEmpty else { return }
        if let executable, !warnedExecutables.insert(executable).inserted { return }
        environment.report("l7trace: warning: pid \(pid) (\(name)) uses \(invisible.map(\.description).joined(separator: ", ")),"
                           + " whose TLS l7trace cannot see: its encrypted requests give no spans")
    }

    /// The file through the process's own root, so that a library inside a
    /// container is found from the host.
    private func reachablePath(_ file: MappedFile, pid: UInt32) -> String {
        "/proc/\(pid)/root\(file.path)"
    }

    static func functionNames(_ bits: Int32) -> String {
        let names = ["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex", "SSL_do_handshake"]
        return names.indices.filter { bits & (1 << $0) != 0 }.map { names[$0] }.joined(separator: ", ")
    }
}
