import L7Events

/// Who the connection's ends are: its role (from outside, or learnt from
/// the bytes) and the process and fd that move its bytes.
extension TrackedConnection {
    /// Sets the role from outside (open event, procfs, listening ports),
    /// unless the connection already knows it.
    func assignRole(_ role: ConnectionRole, local: SocketAddress? = nil, remote: SocketAddress? = nil) {
        if let local, info.local == nil { info.local = local }
        if let remote, info.remote == nil { info.remote = remote }
        if info.role == .unknown && role != .unknown { info.role = role }
        session?.connectionChanged(info)
    }

    /// A protocol session found the role (who spoke first, with what).
    func learnRole(_ role: ConnectionRole) {
        guard info.role == .unknown, role != .unknown else { return }
        info.role = role
        session?.connectionChanged(info)
    }

    /// Another process or fd moves the bytes now (a forked child serving
    /// the connection its parent accepted, fd 1 after fd 0): its exchanges
    /// are attributed to that process. Returns what the capture was told
    /// about the connection, to be told again: the kernel keeps it per fd.
    func moveTo(_ key: ConnectionKey, fd: Int32) -> [Verdict] {
        holders.noteUse(key.tgid)
        guard key != self.key || fd != self.fd else { return [] }
        self.key = key
        self.fd = fd
        info.key = key
        session?.connectionChanged(info)
        var verdicts: [Verdict] = []
        if case .ignored = state { verdicts.append(.ignore) }
        if info.isTLS { verdicts.append(.ignoreCiphertext) }
        if toldHTTP2 { verdicts.append(.http2) }
        return verdicts
    }
}
