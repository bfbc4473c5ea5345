import XCTest
@testable import L7Capture

final class KernelFallbackTests: XCTestCase {
    func testNoFallbackSaysNothing() {
        XCTAssertNil(KernelFallback.summary([], kernelRelease: "6.18.0"))
    }

    func testFallbacksAreNamedInOneLineWithTheKernelAndWhatStandsIn() {
        let line = KernelFallback.summary(KernelFallback.all, kernelRelease: "5.10.0-46-cloud-amd64")
        XCTAssertEqual(line, "l7trace: kernel 5.10.0-46-cloud-amd64, fallbacks in use: "
            + "no task-storage (Linux 5.11): thread states in a hash map of 65536 threads, freed at thread exit; "
            + "no task-btf (Linux 5.11): task fields read with probes; "
            + "no task-pt-regs (Linux 5.15): read arguments saved at syscall entry (two programs per read)")
    }

    func testARefusedMapIsNamedWithTheFeatureItNeeds() {
        let message = CaptureError.mapRejected(map: "events", errno: EINVAL, detail: "").description
        XCTAssertTrue(message.contains("'events'"), message)
        XCTAssertTrue(message.contains("ring buffer (Linux 5.8)"), message)
        XCTAssertTrue(message.contains("Linux 5.10 or later"), message)
        XCTAssertFalse(message.contains("\n"))
        XCTAssertTrue(CaptureError.mapRejected(map: "threads", errno: EINVAL, detail: "").description.contains("task storage"))
    }

    func testAKernelWithoutARingBufferIsToldTheFloor() {
        let message = CaptureError.kernelTooOld(detail: "this kernel has no BPF ring buffer (Linux 5.8 or later)").description
        XCTAssertTrue(message.hasPrefix("this kernel has no BPF ring buffer"), message)
        XCTAssertTrue(message.contains("Linux 5.10 or later with BTF"), message)
    }
}
