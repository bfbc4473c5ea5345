import L7Basics
import XCTest

final class PercentDecodingTests: XCTestCase {
    func testRejectOrKeepABadEscape() {
        XCTAssertEqual(PercentDecoding.decodeUTF8("a%20b%c3%BC"), "a bü")
        XCTAssertNil(PercentDecoding.decodeUTF8("50%"))
        XCTAssertNil(PercentDecoding.decodeUTF8("%g0"))
        XCTAssertEqual(PercentDecoding.decode("50%+%4", badEscape: .keep, plusIsSpace: true), Array("50% %4".utf8))
    }
}
