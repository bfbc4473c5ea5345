#if canImport(Glibc)
import Glibc
#endif
import L7Spans
import XCTest

final class ClockConversionTests: XCTestCase {
    /// Moved from L7CaptureTests with MonotonicClock.unixOffsetNs, which only it called:
    /// the tracer converts kernel times with ClockConversion.current().
    func testCurrentOffsetMatchesTheTwoClocks() {
        var real = timespec(), mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        let expected = (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(mono.tv_nsec)
        XCTAssertLessThan(abs(ClockConversion.current().offsetNs - expected), 5_000_000)
    }
}
