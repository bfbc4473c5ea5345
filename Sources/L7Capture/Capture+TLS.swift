import CProbes
import L7Basics
import L7Events
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension Capture {
    /// Starts tracing HTTPS through OpenSSL: attaches the SSL probes to
    /// every libssl (or executable defining `SSL_read`) that a selected
    /// process maps, now and as processes exec, and prints one stderr line
    /// per file attached and one per executable whose TLS cannot be seen.
    ///
    /// `isSelected` narrows which processes are looked at beyond what the
    /// kernel already filters (service names are known only to the caller).
    /// Call once, from the thread that polls.
    public func traceTLS(selecting isSelected: @escaping (UInt32) -> Bool = { _ in true }) {
        guard tlsDiscovery == nil else { return }
        let environment = TLSDiscovery.Environment(
            mappedFiles: ProcessMaps.files(of:),
            executablePath: ProcFS.executablePath,
            executableName: ProcFS.executableName,
            scanExecutable: { path in try? ExecutableScan.scan(path: path).get() },
            searchExecutable: ExecutableMarkers.search(path:),
            attachSSL: { [weak self] path in self?.attachSSL(toFile: path) ?? -ENODEV },
            report: { line in Self.writeToStandardError(line + "\n") })
        let discovery = TLSDiscovery(environment: environment, selfPid: UInt32(bitPattern: getpid()))
        discovery.isSelected = isSelected
        tlsDiscovery = discovery
        if options.processMode == .all { discovery.probeLibraries(Self.systemOpenSSLLibraries()) }
        discovery.scan(startingPids())
    }

    /// What `fputs(_, stderr)` did (stderr is unbuffered: straight to the
    /// descriptor), without reading the C global `stderr`, which Swift 6
    /// counts as shared mutable state.
    static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }

    /// The tracker saw a connection of `pid` do a TLS handshake and carry
    /// application data no probe gave the plaintext of: the user is told,
    /// once per executable, after the ring buffer is drained.
    public func tlsConnectionUnreadable(pid: UInt32, port: UInt16?) {
        tlsDiscovery?.connectionUnreadable(pid: pid, port: port)
    }

    /// Gives the lines still noted (at exit, after the last poll).
    public func reportPendingTLS() {
        tlsDiscovery?.runPending(nowNs: MonotonicClock.nowNs())
    }

    /// The libssl files in the usual library directories, each file once.
    static func systemOpenSSLLibraries() -> [MappedFile] {
        let directories = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                           "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/usr/local/lib",
                           "/usr/local/lib64"]
        var seen = Set<FileIdentity>()
        var files = [MappedFile]()
        for directory in directories {
            guard let dir = opendir(directory) else { continue }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                guard name.hasPrefix("libssl.so.") else { continue }
                let path = "\(directory)/\(name)"
                var status = stat()
                guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { continue }
                let identity = FileIdentity(device: deviceText(UInt64(status.st_dev)), inode: UInt64(status.st_ino))
                if seen.insert(identity).inserted { files.append(MappedFile(path: path, identity: identity)) }
            }
        }
        return files
    }

    /// `major:minor` in hex as /proc/PID/maps writes it (glibc's dev_t split).
    static func deviceText(_ dev: UInt64) -> String {
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        return Hex.string(major, minimumDigits: 2) + ":" + Hex.string(minor, minimumDigits: 2)
    }

    /// The processes to look at first: the listed ones and their
    /// descendants when the kernel traces only those, else every process.
    private func startingPids() -> [UInt32] {
        let all = ProcFS.allPids()
        guard options.processMode == .listed else { return all }
        let listed = Set(options.pids)
        var parents = [UInt32: UInt32]()
        for pid in all { parents[pid] = ProcFS.parentPid(pid) }
        return all.filter { pid in
            var current: UInt32? = pid
            for _ in 0..<64 {
                guard let p = current, p > 1 else { return false }
                if listed.contains(p) { return true }
                current = parents[p]
            }
            return false
        }
    }
}

extension TLSDiscovery {
    /// What a ring-buffer event means for discovery (cheap; noted only).
    func note(_ event: CaptureEvent) {
        switch event {
        case .processStarted(let started): processStarted(started.tgid, nowNs: started.timestampNs)
        case .open(let opened): connectionOpened(by: opened.key.tgid)
        case .processExited(let exited): processExited(exited.tgid)
        case .data, .close, .processForked: break
        }
    }
}
