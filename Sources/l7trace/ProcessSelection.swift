import L7Spans

/// Which processes the user asked for: `--pid`, `--service` and
/// `--exclude-service`. Ports are selected in the kernel, per connection.
///
/// A process is traced when no process criterion is given, or when its pid
/// (or an ancestor's, through fork in the kernel) is listed or its service
/// name matches a `--service` glob; and its service name matches no
/// `--exclude-service` glob. Criteria of different kinds (process, port)
/// must all hold.
struct ProcessSelection {
    var pids: Set<UInt32>
    var serviceGlobs: [String]
    var excludedServiceGlobs: [String]

    /// Whether user space must look at each new process: only service
    /// globs need its name; pid lists are enforced in the kernel alone.
    var needsServiceNames: Bool { !serviceGlobs.isEmpty || !excludedServiceGlobs.isEmpty }

    var selectsEverything: Bool { pids.isEmpty && serviceGlobs.isEmpty }

    func selects(pid: UInt32, serviceName: String, inheritedSelection: Bool) -> Bool {
        if excludedServiceGlobs.contains(where: { serviceMatches(serviceName, glob: $0) }) { return false }
        if selectsEverything { return true }
        if pids.contains(pid) || inheritedSelection { return true }
        return serviceGlobs.contains { serviceMatches(serviceName, glob: $0) }
    }

    /// The selection with the running descendants of every `--pid` added:
    /// the kernel passes a verdict on at fork, so only children forked
    /// before the tracer started (nginx's workers) need this.
    func includingRunningDescendants(parents: [UInt32: UInt32]) -> ProcessSelection {
        guard !pids.isEmpty else { return self }
        var expanded = self
        for child in parents.keys {
            var ancestor = parents[child]
            var hops = 0
            while let current = ancestor, current > 1, hops < 64 {
                if pids.contains(current) { expanded.pids.insert(child); break }
                ancestor = parents[current]
                hops += 1
            }
        }
        return expanded
    }
}
