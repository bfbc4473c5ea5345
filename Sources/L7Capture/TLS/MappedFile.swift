/// A file identified the way the kernel identifies uprobe targets: by device
/// and inode, so the same library reached through two paths (or two mount
/// namespaces) is one file.
public struct FileIdentity: Hashable, Sendable {
    /// `major:minor` in hex, as /proc/PID/maps writes it.
    public var device: String
    public var inode: UInt64

    public init(device: String, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// One file mapped into a process (a line of /proc/PID/maps with a path).
public struct MappedFile: Hashable, Sendable {
    /// The path as the process sees it (in its own mount namespace).
    public var path: String
    public var identity: FileIdentity

    public init(path: String, identity: FileIdentity) {
        self.path = path
        self.identity = identity
    }

    /// The last path component: `libssl.so.3`.
    public var fileName: Substring {
        guard let slash = path.lastIndex(of: "/") else { return path[...] }
        return path[path.index(after: slash)...]
    }
}
