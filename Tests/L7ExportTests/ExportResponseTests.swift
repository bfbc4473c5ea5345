@testable import L7Export
import Foundation
import XCTest

/// How collector answers are read, without a network: which failures are
/// retried, after how long, and what the log line says.
final class ExportResponseTests: XCTestCase {
    private let url = "http://c:4318/v1/traces"

    // MARK: OTLP/HTTP

    func testOverloadedWithRetryAfterSecondsIsRetriedAfterThem() {
        let response = HTTPResponse(status: 503, headers: [("retry-after", "7")])
        XCTAssertEqual(OTLPHTTPResponse.outcome(response, url: url).result,
                       .retryableFailure("cannot export to \(url): HTTP 503", retryAfter: 7))
    }

    func testRetryAfterMayBeAnHTTPDate() {
        let response = HTTPResponse(status: 429, headers: [("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")])
        XCTAssertEqual(OTLPHTTPResponse.outcome(response, url: url, now: 784_111_767).result,
                       .retryableFailure("cannot export to \(url): HTTP 429", retryAfter: 10))
        XCTAssertEqual(RetryAfter.unixTime(imfFixdate: "Thu, 01 Jan 1970 00:00:00 GMT"), 0)
        XCTAssertEqual(RetryAfter.unixTime(imfFixdate: "Tue, 29 Feb 2028 12:00:01 GMT"), 1_835_438_401)
        XCTAssertNil(RetryAfter.seconds("soon"))
        XCTAssertNil(RetryAfter.seconds("-3"))
    }

    func testOnlyOverloadStatusesAreRetryable() {
        for status in [429, 502, 503, 504] {
            guard case .retryableFailure = OTLPHTTPResponse.outcome(HTTPResponse(status: status), url: url).result else {
                return XCTFail("\(status) should be retried")
            }
        }
        for status in [400, 401, 403, 404, 413, 500] {
            guard case .permanentFailure = OTLPHTTPResponse.outcome(HTTPResponse(status: status), url: url).result else {
                return XCTFail("\(status) should not be retried")
            }
        }
    }

    func testARefusalCarriesTheCollectorsStatusMessage() {
        let body: [UInt8] = [0x12, 0x03] + Array("bad".utf8)
        let response = HTTPResponse(status: 400, headers: [("content-type", "application/x-protobuf")], body: body)
        XCTAssertEqual(OTLPHTTPResponse.outcome(response, url: url).result, .permanentFailure("cannot export to \(url): HTTP 400: bad"))
    }

    // MARK: OTLP/gRPC

    private func grpc(_ headers: [(String, String)], status: Int = 200, body: [UInt8] = []) -> ExportResult {
        OTLPGRPCResponse.outcome(HTTPResponse(status: status, headers: headers.map { ($0.0, $0.1) }, body: body), url: "http://c:4317").result
    }

    func testGRPCOkIsSuccess() {
        XCTAssertEqual(grpc([("content-type", "application/grpc"), ("grpc-status", "0")], body: [0, 0, 0, 0, 0]), .success)
    }

    func testRetryableGRPCCodesFollowTheSpecification() {
        for code in [1, 4, 10, 11, 14, 15] {
            guard case .retryableFailure(_, nil) = grpc([("grpc-status", String(code))]) else {
                return XCTFail("\(GRPCStatusCode(rawValue: code).name) should be retried")
            }
        }
        for code in [2, 3, 5, 6, 7, 8, 9, 12, 13, 16] {
            guard case .permanentFailure = grpc([("grpc-status", String(code))]) else {
                return XCTFail("\(GRPCStatusCode(rawValue: code).name) should not be retried")
            }
        }
    }

    func testTheMessageIsPercentDecoded() {
        XCTAssertEqual(grpc([("grpc-status", "3"), ("grpc-message", "no%20spans%3A%20%E2%9C%97")]),
                       .permanentFailure("cannot export to http://c:4317: gRPC INVALID_ARGUMENT: no spans: ✗"))
    }

    /// google.rpc.Status{code 8, message "slow down", details [Any{RetryInfo{retry_delay 2.5s}}]}.
    private let statusWithRetryInfo: [UInt8] = {
        let duration: [UInt8] = [0x08, 0x02, 0x10] + [0x80, 0xca, 0xb5, 0xee, 0x01]  // seconds 2, nanos 500_000_000
        let retryInfo: [UInt8] = [0x0a, UInt8(duration.count)] + duration
        let typeURL = Array("type.googleapis.com/google.rpc.RetryInfo".utf8)
        let any: [UInt8] = [0x0a, UInt8(typeURL.count)] + typeURL + [0x12, UInt8(retryInfo.count)] + retryInfo
        let message = Array("slow down".utf8)
        return [0x08, 0x08, 0x12, UInt8(message.count)] + message + [0x1a, UInt8(any.count)] + any
    }()

    private func base64(_ bytes: [UInt8], padded: Bool) -> String {
        let text = Data(bytes).base64EncodedString()
        return padded ? text : String(text.prefix { $0 != "=" })
    }

    func testResourceExhaustedIsRetriedOnlyWithRetryInfoAndAfterItsDelay() {
        for padded in [true, false] {
            XCTAssertEqual(grpc([("grpc-status", "8"), ("grpc-status-details-bin", base64(statusWithRetryInfo, padded: padded))]),
                           .retryableFailure("cannot export to http://c:4317: gRPC RESOURCE_EXHAUSTED: slow down", retryAfter: 2.5))
        }
        XCTAssertEqual(grpc([("grpc-status", "8"), ("grpc-message", "quota")]),
                       .permanentFailure("cannot export to http://c:4317: gRPC RESOURCE_EXHAUSTED: quota"))
    }

    func testWithoutGRPCStatusTheHTTPStatusIsMapped() {
        XCTAssertEqual(grpc([], status: 503), .retryableFailure("cannot export to http://c:4317: gRPC UNAVAILABLE"))
        XCTAssertEqual(grpc([], status: 401), .permanentFailure("cannot export to http://c:4317: gRPC UNAUTHENTICATED"))
        XCTAssertEqual(grpc([], status: 404), .permanentFailure("cannot export to http://c:4317: gRPC UNIMPLEMENTED"))
    }

    func testTheTrailerBeatsAHeaderOfTheSameName() {
        XCTAssertEqual(grpc([("grpc-status", "14"), ("grpc-status", "0")], body: [0, 0, 0, 0, 0]), .success)
    }

    // MARK: Backoff

    func testBackoffDoublesUpToItsMaximumWithJitter() {
        var backoff = Backoff(initial: 1, maximum: 5)
        XCTAssertEqual([0.5, 0.5, 0.5, 0.5, 0.5].map { backoff.nextDelay(random: $0) }, [1, 2, 4, 5, 5])
        backoff.reset()
        XCTAssertEqual(backoff.nextDelay(random: 0), 0.8, accuracy: 1e-9, "20% early at most")
        XCTAssertEqual(backoff.nextDelay(random: 0.999_999), 2.4, accuracy: 1e-5, "20% late at most")
        XCTAssertEqual(backoff.nextDelay(random: 0.999_999), 4.8, accuracy: 1e-5)
        XCTAssertEqual(backoff.nextDelay(random: 0.999_999), 5, "never beyond the maximum")
    }
}
