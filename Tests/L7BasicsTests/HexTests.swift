import L7Basics
import XCTest

final class HexTests: XCTestCase {
    func testDigitValueReadsBothCasesAndRejectsTheRest() {
        let digits = Array("0123456789abcdefABCDEF".utf8)
        XCTAssertEqual(digits.map(Hex.digitValue), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15])
        for byte in Array("gG/:@`xz -%".utf8) + [0x00, 0x80, 0xFF] { XCTAssertNil(Hex.digitValue(byte), "\(byte)") }
    }

    func testLowercaseDigitValueRejectsUppercase() {
        XCTAssertEqual(Hex.lowercaseDigitValue(UInt8(ascii: "f")), 15)
        XCTAssertEqual(Hex.lowercaseDigitValue(UInt8(ascii: "7")), 7)
        XCTAssertNil(Hex.lowercaseDigitValue(UInt8(ascii: "F")))
        XCTAssertNil(Hex.lowercaseDigitValue(UInt8(ascii: "g")))
    }

    func testLowercaseValueReadsAFixedRun() {
        let text = Array("xx4bf92f3577b34da6-ff".utf8)
        text.withUnsafeBufferPointer { bytes in
            XCTAssertEqual(Hex.lowercaseValue(bytes, from: 2, count: 16), 0x4bf9_2f35_77b3_4da6)
            XCTAssertEqual(Hex.lowercaseValue(bytes, from: 19, count: 2), 0xFF)
            XCTAssertNil(Hex.lowercaseValue(bytes, from: 0, count: 4), "x is no digit")
            XCTAssertNil(Hex.lowercaseValue(bytes, from: 17, count: 2), "- is no digit")
        }
        Array("4BF9".utf8).withUnsafeBufferPointer { XCTAssertNil(Hex.lowercaseValue($0, from: 0, count: 4)) }
    }

    func testAppendWritesZeroPaddedLowercaseDigits() {
        var out: [UInt8] = Array("id=".utf8)
        Hex.append(0x00f0_67aa_0ba9_02b7, to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "id=00f067aa0ba902b7")
        out.removeAll()
        Hex.append(0xAB, digits: 2, to: &out)
        Hex.append(0x5, digits: 2, to: &out)
        Hex.append(UInt64.max, digits: 4, to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "ab05ffff")
    }

    func testStringPadsToTheMinimumAndNeverCuts() {
        XCTAssertEqual(Hex.string(0), "0000000000000000")
        XCTAssertEqual(Hex.string(0x4bf9_2f35_77b3_4da6), "4bf92f3577b34da6")
        XCTAssertEqual(Hex.string(UInt64.max), "ffffffffffffffff")
        XCTAssertEqual(Hex.string(0x8, minimumDigits: 2), "08")
        XCTAssertEqual(Hex.string(0x103, minimumDigits: 2), "103")
        XCTAssertEqual(Hex.string(0, minimumDigits: 1), "0")
        XCTAssertEqual(Hex.string(bytes: [0x00, 0x0F, 0xA0, 0xFF]), "000fa0ff")
        XCTAssertEqual(Hex.string(bytes: []), "")
    }
}
