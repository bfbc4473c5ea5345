import XCTest
final class L7ExportTestsPlaceholder: XCTestCase { func testNothing() {} }
