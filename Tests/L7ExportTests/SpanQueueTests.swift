@testable import L7Export
import L7Spans
import XCTest

final class SpanQueueTests: XCTestCase {
    private func describe(_ groups: [ResourceBatch]) -> [String] {
        groups.map { "\($0.resource.serviceName):\($0.spans.map(\.spanID.value))" }
    }

    func testBatchesAreWholeRunsAndKeepEverySpanOnceInOrder() {
        var queue = SpanQueue(runLimit: 4)
        for id in 1...3 { queue.append(Samples.span(pid: 1, id: UInt64(id)), resource: Samples.resource(pid: 1, service: "nginx")) }
        for id in 4...9 { queue.append(Samples.span(pid: 2, id: UInt64(id)), resource: Samples.resource(pid: 2, service: "curl")) }
        queue.append(Samples.span(pid: 1, id: 10), resource: Samples.resource(pid: 1, service: "nginx"))
        XCTAssertEqual(queue.count, 10)

        // Runs: nginx [1-3], curl [4-7] (a run holds at most 4), curl [8, 9], nginx [10].
        let first = queue.takeBatch()
        XCTAssertEqual(first.count, 3)
        XCTAssertEqual(describe(first.groups), ["nginx:[1, 2, 3]"])
        let second = queue.takeBatch()
        XCTAssertEqual(describe(second.groups), ["curl:[4, 5, 6, 7]"])
        let last = queue.takeBatch()
        XCTAssertEqual(last.count, 3)
        XCTAssertEqual(describe(last.groups), ["curl:[8, 9]", "nginx:[10]"])
        XCTAssertTrue(queue.isEmpty)
    }

    func testATakenBatchHasOneGroupPerProcessAndARetryGoesBackFirst() {
        var queue = SpanQueue(runLimit: 10)
        for (pid, id) in [(1, 1), (2, 2), (1, 3), (2, 4)] as [(UInt32, UInt64)] {
            queue.append(Samples.span(pid: pid, id: id), resource: Samples.resource(pid: pid, service: pid == 1 ? "nginx" : "curl"))
        }
        let batch = queue.takeBatch()
        XCTAssertEqual(describe(batch.groups), ["nginx:[1, 3]", "curl:[2, 4]"])
        queue.append(Samples.span(pid: 2, id: 5), resource: Samples.resource(pid: 2, service: "curl"))
        queue.prepend(batch.groups, count: batch.count)
        XCTAssertEqual(queue.count, 5)
        XCTAssertEqual(describe(queue.takeBatch().groups), ["nginx:[1, 3]", "curl:[2, 4, 5]"])
    }
}
