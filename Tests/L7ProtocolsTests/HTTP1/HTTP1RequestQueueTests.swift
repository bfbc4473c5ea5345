import XCTest
import L7Events
@testable import L7Protocols

/// The request queue alone: which request a response answers (pairing
/// rules 1-4), what each loss is counted as, and the framing context a
/// response gets from its request's method.
final class HTTP1RequestQueueTests: XCTestCase {
    private func at(_ ns: UInt64) -> MessageTiming {
        MessageTiming(firstEnterNs: ns, firstExitNs: ns + 1, lastEnterNs: ns, lastExitNs: ns + 1)
    }

    private func request(_ method: String, _ target: String) -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: target, version: "HTTP/1.1", headers: HTTPHeaders())
    }

    func testResponsesPairInRequestOrderAndTakeTheirFramingFromTheMethod() {
        var queue = HTTP1RequestQueue(maxPending: 8)
        queue.requestBegan(request("HEAD", "/a"), timing: at(10))
        queue.requestBegan(request("CONNECT", "b:443"), timing: at(20))
        queue.requestBegan(request("GET", "/c"), timing: at(30))
        XCTAssertEqual(queue.takePartner(for: at(40))?.context, .head)
        XCTAssertEqual(queue.takePartner(for: at(50))?.context, .connect)
        let third = queue.takePartner(for: at(60))
        XCTAssertEqual(third?.head?.target, "/c")
        XCTAssertEqual(third?.context, .ordinary)
        XCTAssertEqual(queue.count, 0)
        XCTAssertEqual(queue.losses, HTTP1RequestQueue.Losses())
    }

    func testAResponseThatBeganBeforeAnyWaitingRequestIsAnOrphan() {  // rule 2
        var queue = HTTP1RequestQueue(maxPending: 8)
        queue.requestBegan(request("GET", "/late"), timing: at(100))
        XCTAssertNil(queue.takePartner(for: at(50)))
        XCTAssertEqual(queue.losses.orphanResponses, 1)
        XCTAssertEqual(queue.takePartner(for: at(150))?.head?.target, "/late")
    }

    func testAfterLostResponsesTheNextPairsWithTheNewestRequestAndTheOlderAreCountedOnce() {  // rules 3 and 4
        var queue = HTTP1RequestQueue(maxPending: 8)
        queue.requestBegan(request("GET", "/1"), timing: at(10))
        queue.requestBegan(request("GET", "/2"), timing: at(20))
        queue.requestBegan(request("GET", "/3"), timing: at(30))
        queue.responsesLostSync()
        XCTAssertEqual(queue.takePartner(for: at(40))?.head?.target, "/3")
        XCTAssertEqual(queue.losses.droppedExchanges, 2)
        // The responses of /1 and /2 were not in the hole after all: not counted again.
        XCTAssertNil(queue.takePartner(for: at(50)))
        XCTAssertNil(queue.takePartner(for: at(60)))
        XCTAssertEqual(queue.losses.orphanResponses, 0)
        XCTAssertNil(queue.takePartner(for: at(70)))
        XCTAssertEqual(queue.losses.orphanResponses, 1)
    }

    func testADroppedRequestKeepsItsPlaceSoLaterPairsStayAligned() {  // rule 1
        var queue = HTTP1RequestQueue(maxPending: 8)
        queue.requestDropped(timing: at(10))
        queue.requestBegan(request("GET", "/kept"), timing: at(20))
        let placeholder = queue.takePartner(for: at(30))
        XCTAssertNotNil(placeholder)
        XCTAssertNil(placeholder?.head)
        XCTAssertEqual(queue.takePartner(for: at(40))?.head?.target, "/kept")
    }

    func testRequestsBeyondTheLimitAreCountedOnArrivalAndStillTakeOneResponseEach() {
        var queue = HTTP1RequestQueue(maxPending: 2)
        for i in 0..<5 { queue.requestBegan(request("GET", "/\(i)"), timing: at(UInt64(10 + i))) }
        XCTAssertEqual(queue.losses.pipelineOverflows, 3)
        XCTAssertEqual(queue.heldHeads, 2)
        let targets = (0..<5).map { queue.takePartner(for: at(UInt64(100 + $0)))?.head?.target }
        XCTAssertEqual(targets, ["/0", "/1", nil, nil, nil])
        XCTAssertEqual(queue.losses.orphanResponses, 0)
        XCTAssertEqual(queue.count, 0)
    }

    func testAtTheCloseTheUnansweredRequestsAreHandedOverWithoutPlaceholders() {
        var queue = HTTP1RequestQueue(maxPending: 8)
        queue.requestBegan(request("GET", "/a"), timing: at(10))
        queue.requestDropped(timing: at(20))
        queue.requestBegan(request("GET", "/b"), timing: at(30))
        var unanswered: [String] = []
        queue.takeUnanswered { unanswered.append($0.head!.target) }
        XCTAssertEqual(unanswered, ["/a", "/b"])
        XCTAssertEqual(queue.count, 0)
    }

    func testDiscardingCountsOnlyRequestsNotCountedBefore() {
        var queue = HTTP1RequestQueue(maxPending: 8)
        queue.requestBegan(request("GET", "/a"), timing: at(10))
        queue.requestDropped(timing: at(20))
        queue.discard()
        XCTAssertEqual(queue.losses.droppedExchanges, 1)
    }
}
