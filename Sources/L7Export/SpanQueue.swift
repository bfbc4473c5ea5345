import L7Spans

/// Spans waiting for export, already grouped by process the way OTLP sends
/// them (one ResourceSpans per process).
///
/// Grouping as spans arrive lets a span be moved once, into its group, and
/// lets the export thread take a whole batch without copying a span: copying
/// and freeing spans twice more used to cost the export thread more than the
/// export of `--exporter none` itself.
struct SpanQueue {
    /// Runs of consecutive spans of one process; one process may have several
    /// runs when processes interleave (merged when a batch is taken).
    private(set) var groups: [ResourceBatch] = []
    /// Spans in all groups.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ span: consuming SpanRecord, resource: ProcessResource) {
        if let last = groups.indices.last, groups[last].resource.pid == resource.pid {
            groups[last].spans.append(span)
        } else {
            groups.append(ResourceBatch(resource: resource, spans: [span]))
        }
        count += 1
    }

    /// Removes and returns up to `limit` of the oldest spans, one group per process.
    mutating func take(upTo limit: Int) -> (groups: [ResourceBatch], count: Int) {
        var taken: [ResourceBatch] = []
        var takenCount = 0
        if count <= limit {
            swap(&taken, &groups)
            takenCount = count
            count = 0
        } else {
            var whole = 0
            while whole < groups.count && takenCount + groups[whole].spans.count <= limit {
                takenCount += groups[whole].spans.count
                whole += 1
            }
            taken = Array(groups[0..<whole])
            groups.removeFirst(whole)
            if takenCount < limit, !groups.isEmpty {
                let part = limit - takenCount
                taken.append(ResourceBatch(resource: groups[0].resource, spans: Array(groups[0].spans[0..<part])))
                groups[0].spans.removeFirst(part)
                takenCount = limit
            }
            count -= takenCount
        }
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
