/// The processes whose fds name a connection's socket, with how many fds
/// each (the kernel reports one open and one close per fd). A socket is one
/// connection however many fds name it: a forking server's parent accepts
/// it and closes its copy, its child serves it on fds 0 and 1. Most
/// connections have one holder, kept inline (no allocation).
struct ConnectionHolders: Equatable {
    private var first: UInt32 = 0
    private var firstFds = 0
    private var others: [UInt32: Int] = [:]

    var isEmpty: Bool { firstFds == 0 && others.isEmpty }

    func contains(_ tgid: UInt32) -> Bool {
        (firstFds > 0 && first == tgid) || others[tgid] != nil
    }

    /// One more fd of `tgid` names the socket.
    mutating func add(_ tgid: UInt32) {
        if firstFds > 0 && first == tgid {
            firstFds += 1
        } else if firstFds == 0 && others[tgid] == nil {
            first = tgid
            firstFds = 1
        } else {
            others[tgid, default: 0] += 1
        }
    }

    /// `tgid` moved bytes on it: a holder, even if its open was not seen.
    mutating func noteUse(_ tgid: UInt32) {
        if !contains(tgid) { add(tgid) }
    }

    /// One fd of `tgid` was closed.
    mutating func release(_ tgid: UInt32) {
        if firstFds > 0 && first == tgid {
            firstFds -= 1
        } else if let fds = others[tgid] {
            others[tgid] = fds > 1 ? fds - 1 : nil
        }
    }

    /// `tgid` exited: its fds are closed, without close calls.
    mutating func remove(_ tgid: UInt32) {
        if firstFds > 0 && first == tgid { firstFds = 0 }
        others[tgid] = nil
    }
}
