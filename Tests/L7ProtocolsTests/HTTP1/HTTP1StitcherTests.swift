import XCTest
import L7Events
@testable import L7Protocols

/// The stitcher alone: a response bound to the request the queue chose
/// becomes an exchange when it ends; what is given up is counted.
final class HTTP1StitcherTests: XCTestCase {
    private let connection = ConnectionInfo(key: ConnectionKey(tgid: 7, connectionID: 1), role: .server,
                                            local: nil, remote: nil, isTLS: false)

    private func at(_ ns: UInt64) -> MessageTiming {
        MessageTiming(firstEnterNs: ns, firstExitNs: ns + 1, lastEnterNs: ns + 2, lastExitNs: ns + 3)
    }

    private func waiting(_ target: String, sequence: UInt64 = 0, bodySize: Int = 0) -> HTTP1RequestQueue.PendingRequest {
        HTTP1RequestQueue.PendingRequest(head: HTTPRequestHead(method: "POST", target: target, version: "HTTP/1.1",
                                                               headers: HTTPHeaders()),
                                         timing: at(10), bodySize: bodySize, sequence: sequence)
    }

    private func response(_ status: Int) -> HTTPResponseHead {
        HTTPResponseHead(status: status, reason: "", version: "HTTP/1.1", headers: HTTPHeaders())
    }

    func testAResponseThatEndsMakesOneExchangeWithBothSidesAndTheirTimes() {
        var stitcher = HTTP1Stitcher(connection: connection)
        stitcher.responseBegan(response(201), answering: waiting("/orders", sequence: 4, bodySize: 12))
        XCTAssertEqual(stitcher.responseEnded(bodySize: 30, timing: at(20), failure: nil), 4)
        XCTAssertEqual(stitcher.ready.count, 1)
        let exchange = stitcher.ready[0]
        XCTAssertEqual(exchange.request.target, "/orders")
        XCTAssertEqual(exchange.response?.status, 201)
        XCTAssertEqual(exchange.requestBodySize, 12)
        XCTAssertEqual(exchange.responseBodySize, 30)
        XCTAssertEqual(exchange.requestTiming, at(10))
        XCTAssertEqual(exchange.responseTiming, at(20))
        XCTAssertNil(exchange.failure)
        XCTAssertEqual(stitcher.stats.exchanges, 1)
    }

    func testABodyWhoseFramingWasLostIsReportedWithoutASize() {
        var stitcher = HTTP1Stitcher(connection: connection)
        stitcher.responseBegan(response(200), answering: waiting("/big"))
        stitcher.responseBodySizeLost()
        stitcher.responseEnded(bodySize: 0, timing: at(20), failure: nil)
        XCTAssertTrue(stitcher.ready[0].undecoded.contains(.responseBodySize))
    }

    func testAnOrphanOrAPlaceholderMakesNoExchange() {
        var stitcher = HTTP1Stitcher(connection: connection)
        stitcher.responseBegan(response(200), answering: nil)
        XCTAssertNil(stitcher.responseEnded(bodySize: 0, timing: at(20), failure: nil))
        var placeholder = waiting("/x")
        placeholder.head = nil
        stitcher.responseBegan(response(200), answering: placeholder)
        XCTAssertNil(stitcher.responseEnded(bodySize: 0, timing: at(30), failure: nil))
        XCTAssertTrue(stitcher.ready.isEmpty)
        XCTAssertEqual(stitcher.stats, ProtocolStats())
    }

    func testARequestWithoutAResponseIsReportedAsClosedAndAResponseInFlightIsCountedLost() {
        var stitcher = HTTP1Stitcher(connection: connection)
        stitcher.responseBegan(response(200), answering: waiting("/in-flight"))
        stitcher.abandonResponse()
        stitcher.unanswered(waiting("/never-answered", sequence: 1))
        XCTAssertEqual(stitcher.stats.droppedExchanges, 1)
        XCTAssertEqual(stitcher.ready.map(\.request.target), ["/never-answered"])
        XCTAssertEqual(stitcher.ready[0].failure, .connectionClosed)
        XCTAssertNil(stitcher.ready[0].response)
    }

    func testTheRequestOfAResponseInFlightStillLearnsItsBodySize() {
        var stitcher = HTTP1Stitcher(connection: connection)
        stitcher.responseBegan(response(100 + 100), answering: waiting("/upload", sequence: 9))
        stitcher.updateAnsweredRequest(9) { $0.bodySize = 4096 }
        stitcher.updateAnsweredRequest(8) { $0.bodySize = 1 }
        stitcher.responseEnded(bodySize: 2, timing: at(20), failure: nil)
        XCTAssertEqual(stitcher.ready[0].requestBodySize, 4096)
    }
}
