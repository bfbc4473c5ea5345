import XCTest
@testable import L7Protocols

/// Inputs found by `make fuzz` (fuzz/), kept as tests once found.
final class FuzzFindingsTests: XCTestCase {
    /// hpack target, crash-8ae19fc8…: settings byte 0x8d (SETTINGS_HEADER_TABLE_SIZE 256), then
    /// one block `3f e1 1f 82 86 84 …`, a size update to 4,096. RFC 7541 §6.3: a size update
    /// above the decoder's advertised limit is a decoding error; accepting it lets a peer grow
    /// the modelled table (and what one indexed byte copies) past what the endpoint allows.
    func testSizeUpdateAboveTheSettingsLimitIsRefused() {
        var decoder = HPACKDecoder(startsEmpty: true)
        decoder.settingsChanged(headerTableSize: 256)
        let block: [UInt8] = [0x3F, 0xE1, 0x1F, 0x82, 0x86, 0x84]
        XCTAssertThrowsError(try block.withUnsafeBytes { try decoder.decode($0) })
        XCTAssertLessThanOrEqual(decoder.maxSize, 256)
    }
}
