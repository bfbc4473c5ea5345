import L7Capture
import L7Spans

/// The resource (service name and process attributes) of every process
/// that produced an exchange, read from procfs once per exec.
///
/// Resolved as early as possible — on the exec event — because a
/// short-lived client may be gone from procfs by the time its exchange is
/// stitched.
final class ProcessDirectory {
    private var resources: [UInt32: ProcessResource] = [:]
    private let hostName: String
    private let builder: ProcessResourceBuilder

    init() {
        hostName = ProcFS.hostName()
        builder = ProcessResourceBuilder()
    }

    /// Reads every process that runs now, before any of its events arrive:
    /// a process that exits between two ring-buffer batches can no longer
    /// be read once its exchange is stitched.
    func preloadRunningProcesses() {
        for pid in ProcFS.allPids() where resources[pid] == nil {
            resources[pid] = resolve(pid)
        }
    }

    func resource(of pid: UInt32) -> ProcessResource {
        if let known = resources[pid] { return known }
        let resolved = resolve(pid)
        resources[pid] = resolved
        return resolved
    }

    /// `child` was forked by `parent` and runs its program: its resource is
    /// the parent's with its own pid. Taken now, while the parent is known.
    func forked(_ child: UInt32, from parent: UInt32) {
        resources[child] = builder.resource(forkedFrom: resource(of: parent), pid: child)
    }

    /// The process exec'd: its name and environment may have changed.
    func refresh(_ pid: UInt32) {
        resources[pid] = resolve(pid)
    }

    func forget(_ pid: UInt32) {
        resources[pid] = nil
    }

    private func resolve(_ pid: UInt32) -> ProcessResource {
        builder.resource(
            pid: pid,
            executableName: ProcFS.executableName(pid),
            executablePath: ProcFS.executablePath(pid),
            environment: ProcFS.environ(pid),
            commandLine: ProcFS.commandLine(pid),
            hostName: hostName,
            containerID: ProcFS.containerID(pid)
        )
    }
}
