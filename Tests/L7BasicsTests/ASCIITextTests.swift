import L7Basics
import XCTest

final class ASCIICaseTests: XCTestCase {
    func testOnlyASCIILettersChangeCase() {
        XCTAssertEqual(ASCIICase.lowercased(UInt8(ascii: "A")), UInt8(ascii: "a"))
        XCTAssertEqual(ASCIICase.lowercased(UInt8(ascii: "Z")), UInt8(ascii: "z"))
        for byte in Array("az09@[`{-_ ".utf8) + [0x00, 0x7F, 0xC3, 0xDC] {
            XCTAssertEqual(ASCIICase.lowercased(byte), byte, "\(byte)")
        }
        XCTAssertTrue(ASCIICase.isUppercase(UInt8(ascii: "Q")))
        XCTAssertFalse(ASCIICase.isUppercase(UInt8(ascii: "q")))
        XCTAssertFalse(ASCIICase.isUppercase(UInt8(ascii: "@")))
        XCTAssertTrue(ASCIICase.isLowercase(UInt8(ascii: "q")))
        XCTAssertFalse(ASCIICase.isLowercase(UInt8(ascii: "{")))
    }

    func testEqualIgnoresASCIICaseOnly() {
        XCTAssertTrue(ASCIICase.equal("Content-Type", "content-type"))
        XCTAssertTrue(ASCIICase.equal("", ""))
        XCTAssertFalse(ASCIICase.equal("content-type", "content-typ"))
        XCTAssertFalse(ASCIICase.equal("@", "`"), "0x40 and 0x60 differ by the case bit but are not letters")
        XCTAssertFalse(ASCIICase.equal("Ü", "ü"), "no Unicode case folding")
        XCTAssertTrue(ASCIICase.equal(Array("X-Trace".utf8), Substring("x-tRACE").utf8))
        XCTAssertTrue(ASCIICase.equal(UInt8(ascii: "k"), UInt8(ascii: "K")))
        XCTAssertFalse(ASCIICase.equal(UInt8(ascii: "["), UInt8(ascii: "{")))
    }
}

final class ASCIIWhitespaceTests: XCTestCase {
    func testOWSIsSpaceAndTab() {
        XCTAssertEqual(ASCIIWhitespace.trimmingOWS(" \t a b \t"), "a b")
        XCTAssertEqual(ASCIIWhitespace.trimmingOWS("x"), "x")
        XCTAssertEqual(ASCIIWhitespace.trimmingOWS(" \t "), "")
        XCTAssertEqual(ASCIIWhitespace.trimmingOWS(""), "")
        XCTAssertEqual(ASCIIWhitespace.trimmingOWS("\r\nv\n"), "\r\nv\n", "CR and LF are not OWS")
        let sub = "k= v ,w".split(separator: ",")[0]
        XCTAssertEqual(ASCIIWhitespace.trimmingOWS(sub.dropFirst(2)), "v")
    }

    func testWhitespaceAddsCRAndLF() {
        XCTAssertEqual(ASCIIWhitespace.trimmingWhitespace("\t http://c:4318\r\n"), "http://c:4318")
        XCTAssertEqual(ASCIIWhitespace.trimmingWhitespace("\r\n"), "")
        XCTAssertEqual(ASCIIWhitespace.trimmingWhitespace(" é "), "é")
        XCTAssertEqual(ASCIIWhitespace.trimmingWhitespace("a\u{A0}"), "a\u{A0}", "only ASCII whitespace")
    }

    func testBytesAreTrimmedWithoutCopying() {
        let text = Array("  gzip ,\tchunked\t".utf8)
        text.withUnsafeBytes { raw in
            let trimmed = ASCIIWhitespace.trimmingOWS(raw)
            XCTAssertEqual(String(decoding: trimmed, as: UTF8.self), "gzip ,\tchunked")
            XCTAssertEqual(trimmed.baseAddress, raw.baseAddress! + 2)
            XCTAssertEqual(ASCIIWhitespace.trimmingOWS(UnsafeRawBufferPointer(rebasing: raw[0..<2])).count, 0)
        }
        text.withUnsafeBufferPointer { bytes in
            XCTAssertEqual(String(decoding: ASCIIWhitespace.trimmingOWS(bytes), as: UTF8.self), "gzip ,\tchunked")
            XCTAssertEqual(ASCIIWhitespace.trimmingOWS(bytes.baseAddress!, 8..<17), 9..<16)
            XCTAssertEqual(ASCIIWhitespace.trimmingOWS(bytes.baseAddress!, 0..<2), 2..<2)
        }
    }
}
