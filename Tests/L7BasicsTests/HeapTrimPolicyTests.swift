import L7Basics
import XCTest

final class HeapTrimPolicyTests: XCTestCase {
    private let mb = 1 << 20
    private let second: UInt64 = 1_000_000_000

    func testTheFirstCheckTrimsWhatStartUpFreed() {
        var policy = HeapTrimPolicy()
        XCTAssertTrue(policy.shouldTrim(slack: 10 * mb, spareCapacity: false, nowNs: 1 * second))
    }

    func testABurstThatFreedMegabytesIsTrimmedAtOnce() {
        var policy = trimmedAt(slack: 4 * mb, nowNs: 1 * second)
        XCTAssertFalse(policy.shouldTrim(slack: 5 * mb, spareCapacity: false, nowNs: 2 * second))
        XCTAssertTrue(policy.shouldTrim(slack: 7 * mb, spareCapacity: false, nowNs: 3 * second))
    }

    /// The CI failure: a trim ran while 20,000 connections were still closing,
    /// the rest freed less than the burst threshold, and the tracer kept
    /// ~5 MB over its idle RSS for good. Once the heap has been quiet for a
    /// while, a smaller slack is given back too.
    func testWhatABurstFreedAfterItsTrimIsGivenBackOnceSettled() {
        var policy = trimmedAt(slack: 4 * mb, nowNs: 10 * second)
        let afterTheRest = 4 * mb + 3 * mb / 2
        XCTAssertFalse(policy.shouldTrim(slack: afterTheRest, spareCapacity: false, nowNs: 11 * second))
        XCTAssertFalse(policy.shouldTrim(slack: afterTheRest, spareCapacity: false, nowNs: 14 * second))
        XCTAssertTrue(policy.shouldTrim(slack: afterTheRest, spareCapacity: false, nowNs: 15 * second))
    }

    func testSpareCapacityInThePipelineIsReleasedWithoutWaiting() {
        var policy = trimmedAt(slack: 4 * mb, nowNs: 10 * second)
        XCTAssertTrue(policy.shouldTrim(slack: 4 * mb, spareCapacity: true, nowNs: 11 * second))
    }

    func testSmallChurnNeverTrims() {
        var policy = trimmedAt(slack: 4 * mb, nowNs: 10 * second)
        for step in UInt64(11)...100 {
            XCTAssertFalse(policy.shouldTrim(slack: 4 * mb + 256 << 10, spareCapacity: false, nowNs: step * second))
        }
    }

    func testTheBaselineFollowsTheSlackDown() {
        var policy = trimmedAt(slack: 4 * mb, nowNs: 10 * second)
        XCTAssertFalse(policy.shouldTrim(slack: 1 * mb, spareCapacity: false, nowNs: 11 * second))
        XCTAssertTrue(policy.shouldTrim(slack: 3 * mb + 1, spareCapacity: false, nowNs: 12 * second),
                      "2 MB over the lowest slack seen")
    }

    private func trimmedAt(slack: Int, nowNs: UInt64) -> HeapTrimPolicy {
        var policy = HeapTrimPolicy()
        XCTAssertTrue(policy.shouldTrim(slack: slack + 8 * mb, spareCapacity: false, nowNs: nowNs))
        policy.trimmed(slackAfter: slack, nowNs: nowNs)
        return policy
    }
}
