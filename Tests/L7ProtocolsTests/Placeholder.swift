import XCTest
final class L7ProtocolsTestsPlaceholder: XCTestCase { func testNothing() {} }
