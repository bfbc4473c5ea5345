@testable import L7Spans
import XCTest

/// The split of a gRPC path into service and method (span name and `rpc.*`).
final class GRPCMethodTests: XCTestCase {
    func testGRPCShapedPathsSplitOthersDoNot() {
        let split = { (path: String) in SpanBuilder.grpcMethod(path: path).map { [$0.service, $0.method] } }
        XCTAssertEqual(split("/demo.Echo/Unary"), ["demo.Echo", "Unary"])
        XCTAssertEqual(split("/grpc.health.v1.Health/Check"), ["grpc.health.v1.Health", "Check"])
        XCTAssertEqual(split("/é.Service/Métode"), ["é.Service", "Métode"])
        for path in ["", "/", "//", "//Method", "/Service/", "/a/b/c", "a/b", "/only", "/a/b/\u{E9}"] {
            XCTAssertNil(split(path), path)
        }
        // A combining mark after "/" makes one Character with it: that "/" does not split.
        XCTAssertEqual(split("/a/b/\u{301}c"), ["a", "b/\u{301}c"])
        XCTAssertNil(split("/a/\u{301}b"))
        XCTAssertNil(split("/\u{301}a/b"), "the first Character is not \"/\"")
    }
}
