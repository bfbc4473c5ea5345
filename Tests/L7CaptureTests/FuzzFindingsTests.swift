import CProbes
import XCTest
@testable import L7Capture

/// Inputs found by `make fuzz` (fuzz/, target `record`), kept as tests once found.
final class RecordFuzzFindingsTests: XCTestCase {
    /// record target, crash-5a60c708…: a data record whose `returned` has its top bit set
    /// (the kernel never writes one, but the decoder must not trust it): `Int(e.returned)`
    /// traps ("Not enough bits to represent the passed value") and the tracer dies. A record
    /// that cannot be real should be refused (nil), not crash the consumer.
    func testDataRecordWithAnImpossibleReturnedLengthIsRefused() {
        var e = l7_data_event()
        e.header.kind = UInt8(L7_EVENT_DATA.rawValue)
        e.returned = 1 << 63
        e.captured = 0
        var copy = e
        let bytes = withUnsafeBytes(of: &copy) { Array($0) }
        bytes.withUnsafeBytes { raw in
            XCTAssertNil(RecordDecoder.decode(raw))
        }
    }
}
