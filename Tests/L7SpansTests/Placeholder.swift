import XCTest
final class L7SpansTestsPlaceholder: XCTestCase { func testNothing() {} }
