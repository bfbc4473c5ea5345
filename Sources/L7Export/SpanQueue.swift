import L7Spans

/// Spans waiting for export, already grouped by process the way OTLP sends
/// them (one ResourceSpans per process).
///
/// Grouping as spans arrive lets a span be moved once, into its group, and
/// lets the export thread take a whole batch without copying a span: copying
/// and freeing spans twice more used to cost the export thread more than the
/// export of `--exporter none` itself.
struct SpanQueue {
    /// Runs of consecutive spans of one process, each at most `runLimit`
    /// long, so that a batch is always whole runs: taking one never splits
    /// or shifts a long array. One process has several runs when processes
    /// interleave or it is busy (merged when a batch is taken).
    private(set) var groups: [ResourceBatch] = []
    /// Spans in all groups.
    private(set) var count = 0
    private let runLimit: Int

    /// `runLimit`: the most spans one batch may hold.
    init(runLimit: Int) { self.runLimit = max(1, runLimit) }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ span: consuming SpanRecord, resource: ProcessResource) {
        if let last = groups.indices.last, groups[last].resource.pid == resource.pid, groups[last].spans.count < runLimit {
            groups[last].spans.append(span)
        } else {
            groups.append(ResourceBatch(resource: resource, spans: [span]))
        }
        count += 1
    }

    /// Removes and returns the oldest whole runs holding at most `runLimit`
    /// spans together (at least one run), one group per process.
    mutating func takeBatch() -> (groups: [ResourceBatch], count: Int) {
        var taken: [ResourceBatch] = []
        var takenCount = 0
        if count <= runLimit {
            swap(&taken, &groups)
            takenCount = count
        } else {
            var whole = 0
            while whole < groups.count && (whole == 0 || takenCount + groups[whole].spans.count <= runLimit) {
                takenCount += groups[whole].spans.count
                whole += 1
            }
            taken = Array(groups[0..<whole])
            groups.removeFirst(whole)
        }
        count -= takenCount
        return (Self.mergedByProcess(taken), takenCount)
    }

    /// Puts a batch back at the head of the queue (a retry).
    mutating func prepend(_ batch: [ResourceBatch], count batchCount: Int) {
        groups.insert(contentsOf: batch, at: 0)
        count += batchCount
    }

    mutating func removeAll() {
        groups.removeAll()
        count = 0
    }

    /// One group per process, in the order processes first appear.
    private static func mergedByProcess(_ groups: [ResourceBatch]) -> [ResourceBatch] {
        guard groups.count > 1 else { return groups }
        var merged: [ResourceBatch] = []
        var indexByPid: [UInt32: Int] = [:]
        for group in groups {
            if let index = indexByPid[group.resource.pid] {
                merged[index].spans.append(contentsOf: group.spans)
            } else {
                indexByPid[group.resource.pid] = merged.count
                merged.append(group)
            }
        }
        return merged
    }
}
