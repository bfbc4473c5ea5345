/// Finds the TLS libraries of traced processes and attaches the OpenSSL
/// probes to each file once; tells the user, once per executable, when a
/// traced process speaks TLS that no probe of ours can read, naming the TLS
/// stack where the process's files tell it.
///
/// When it looks: every selected process at start; a process after exec,
/// then again a few times while its loader and `dlopen` (Python's `ssl`)
/// bring libraries in; and at a process's first traced connection. The
/// "cannot read" line is not given from what a process maps (curl maps
/// GnuTLS but speaks OpenSSL; every Go program links crypto/tls) but when
/// the tracker sees a connection's TLS handshake followed by application
/// data that no probe gave the plaintext of (`connectionUnreadable`).
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
    private var pendingScans: [UInt32] = []
    /// Unreadable TLS connections noted, warned about after the drain.
    private var pendingUnreadable: [(pid: UInt32, port: UInt16?)] = []

    init(environment: Environment, selfPid: UInt32) {
        self.environment = environment
        self.selfPid = selfPid
    }

    // MARK: - Events (cheap: noted, done in `runPending`)

    func processStarted(_ pid: UInt32, nowNs: UInt64) {
        connected.remove(pid)
        rescans.removeAll { $0.pid == pid }
        pendingScans.append(pid)
        for delay in Self.rescanDelaysNs { rescans.append((nowNs + delay, pid)) }
    }

    func connectionOpened(by pid: UInt32) {
        guard connected.insert(pid).inserted else { return }
        pendingScans.append(pid)
    }

    /// A connection of `pid` did a TLS handshake and then carried
    /// application data that no probe gave the plaintext of.
    public func connectionUnreadable(pid: UInt32, port: UInt16?) {
        pendingUnreadable.append((pid, port))
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
        for pid in pids { scan(pid) }
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
            pendingScans.append(contentsOf: due)
        }
        if !pendingScans.isEmpty {
            let work = pendingScans
            pendingScans.removeAll(keepingCapacity: true)
            for pid in work { scan(pid) }
        }
        if !pendingUnreadable.isEmpty {
            let work = pendingUnreadable
            pendingUnreadable.removeAll(keepingCapacity: true)
            for (pid, port) in work { warnUnreadable(pid: pid, port: port) }
        }
        if !exited.isEmpty {
            for pid in exited { executables[pid] = nil }
            exited.removeAll(keepingCapacity: true)
        }
    }

    private func scan(_ pid: UInt32) {
        guard pid != selfPid, isSelected(pid) else { return }
        let files = environment.mappedFiles(pid)
        for file in files where TLSStack.ofLibrary(named: file.fileName) == .openSSLLibrary {
            probe(file, at: reachablePath(file, pid: pid))
        }
        if let exePath = environment.executablePath(pid), let exe = files.first(where: { $0.path == exePath }) {
            executables[pid] = exe
        }
        guard let executable = executables[pid] else { return }
        let scanned = scanExecutable(executable, pid: pid)
        if scanned.definesSSLRead && !files.isEmpty {
            probe(executable, at: reachablePath(executable, pid: pid))
        }
    }

    /// Tells the user, once per executable, that `pid` speaks TLS l7trace
    /// cannot read, naming the stacks its files suggest.
    private func warnUnreadable(pid: UInt32, port: UInt16?) {
        guard pid != selfPid else { return }
        scan(pid) // libraries loaded since the last look
        let executable = executables[pid]
        if let executable, warnedExecutables.contains(executable.identity) { return }
        let name = environment.executableName(pid) ?? executable.map { String($0.fileName) } ?? "?"
        if let executable { warnedExecutables.insert(executable.identity) }
        let stacks = stacksOf(pid, executable: executable)
        let described = stacks.isEmpty ? "unknown TLS library" : stacks.joined(separator: " or ")
        environment.report("l7trace: warning: \(name) (pid \(pid)) speaks TLS\(port.map { " on port \($0)" } ?? "")"
                           + " that l7trace cannot read (\(described)): its encrypted requests give no spans")
    }

    /// The TLS stacks a process's files point to, the likeliest first.
    private func stacksOf(_ pid: UInt32, executable: MappedFile?) -> [String] {
        let files = environment.mappedFiles(pid)
        var stacks = [String]()
        var openSSLProbed = false
        for file in files {
            switch TLSStack.ofLibrary(named: file.fileName) {
            case .openSSLLibrary?:
                openSSLProbed = openSSLProbed || (probedFiles[file.identity] ?? false)
            case .invisible(let what)?:
                let text = what.description
                if !stacks.contains(text) { stacks.append(text) }
            case nil:
                break
            }
        }
        guard let executable else { return stacks }
        let scanned = scanExecutable(executable, pid: pid)
        for name in scanned.tlsLibraryNames {
            if case .invisible(let what)? = TLSStack.ofLibrary(named: name[...]), !stacks.contains(what.description) {
                stacks.append(what.description)
            }
        }
        let exeProbed = probedFiles[executable.identity] ?? false
        // TLS inside the executable: a search of its bytes, paid once per executable.
        let markers = searchExecutable(executable, pid: pid)
        if scanned.isGo && markers.hasGoCryptoTLS { stacks.insert("Go crypto/tls", at: 0) }
        guard stacks.isEmpty else { return stacks }
        // Probed OpenSSL whose calls were not tied to this socket: memory
        // BIOs (Node.js, asyncio), or a connection made before the probes.
        if exeProbed { return ["OpenSSL inside the executable, through memory BIOs"] }
        if openSSLProbed { return ["OpenSSL through memory BIOs"] }
        return markers.hasOpenSSLVersion ? ["OpenSSL linked in without symbols"] : []
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
