import Glibc
@testable import L7Export
import L7Spans
import XCTest

final class ConsoleExporterTests: XCTestCase {
    func testALineHasTimeServiceKindNameStatusDurationAndTraceID() {
        let span = Samples.span()
        XCTAssertEqual(ConsoleSpanFormatter().line(for: span, serviceName: "nginx"),
                       "2023-11-14T22:13:20.000Z nginx        SERVER GET /users/* 200    1.234ms trace=4bf92f3577b34da6a3ce929d0e0e4736")
    }

    func testMillisecondsAndSubMillisecondDurations() {
        var span = Samples.span(kind: .client)
        span.startUnixNano = 1_764_017_941_123_999_999
        span.endUnixNano = span.startUnixNano + 56_700
        let line = ConsoleSpanFormatter().line(for: span, serviceName: "curl")
        XCTAssertTrue(line.hasPrefix("2025-11-24T20:59:01.123Z curl         CLIENT GET /users/* 200    0.056ms trace="), line)
    }

    func testStatusFallsBackToGRPCThenDash() {
        var grpc = Samples.span(name: "helloworld.Greeter/SayHello", status: nil)
        grpc.attributes.append(Attribute("rpc.grpc.status_code", .int(5)))
        XCTAssertTrue(ConsoleSpanFormatter().line(for: grpc, serviceName: "greeter").contains(" helloworld.Greeter/SayHello 5  "))

        var failed = Samples.span(status: nil)
        failed.statusCode = .error
        XCTAssertTrue(ConsoleSpanFormatter().line(for: failed, serviceName: "x").contains(" GET /users/* ERR "))

        let unknown = Samples.span(status: nil)
        XCTAssertTrue(ConsoleSpanFormatter().line(for: unknown, serviceName: "x").contains(" GET /users/* -   "))
    }

    /// The date arithmetic against glibc's `gmtime_r`, over 400 years of seconds.
    func testTimestampsAgreeWithGmtime() {
        var state: UInt64 = 1
        for _ in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let unixNano = state % 13_000_000_000_000_000_000  // up to 2381
            var seconds = time_t(unixNano / 1_000_000_000)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                                  Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec),
                                  Int(unixNano / 1_000_000 % 1000))
            var bytes: [UInt8] = []
            ConsoleSpanFormatter.appendTimestamp(unixNano: unixNano, to: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), expected)
        }
        var bytes: [UInt8] = []
        ConsoleSpanFormatter.appendTimestamp(unixNano: 0, to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "1970-01-01T00:00:00.000Z")
    }

    func testColumnsCountCharactersAndLongValuesAreNotCut() {
        var span = Samples.span()
        span.endUnixNano = span.startUnixNano + 123_456_789_000_000
        let line = ConsoleSpanFormatter().line(for: span, serviceName: "büro-dienst")
        XCTAssertTrue(line.contains(" büro-dienst  SERVER GET /users/* 200 123456789.000ms trace="), line)
        let long = ConsoleSpanFormatter().line(for: Samples.span(), serviceName: "a-very-long-service-name")
        XCTAssertTrue(long.contains(" a-very-long-service-name SERVER "), long)
    }

    func testAnExportWritesOneLinePerSpanInOneWrite() {
        let written = Locked<[String]>([])
        let exporter = ConsoleExporter { text in written.update { $0.append(text) } }
        let result = exporter.export([
            ResourceBatch(resource: Samples.resource(pid: 1, service: "nginx"), spans: [Samples.span(), Samples.span(id: 2)]),
            ResourceBatch(resource: Samples.resource(pid: 2, service: "curl"), spans: [Samples.span(kind: .client)]),
        ])
        XCTAssertEqual(result, .success)
        let writes = written.value
        XCTAssertEqual(writes.count, 1)
        let lines = writes[0].split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 4, "three lines, each ending in a newline")
        XCTAssertTrue(lines[0].contains(" nginx ") && lines[0].contains(" SERVER "))
        XCTAssertTrue(lines[2].contains(" curl ") && lines[2].contains(" CLIENT "))
        XCTAssertEqual(lines[3], "")
    }

    func testNothingIsWrittenForNoSpans() {
        let writes = Locked(0)
        XCTAssertEqual(ConsoleExporter { _ in writes.update { $0 += 1 } }.export([]), .success)
        XCTAssertEqual(writes.value, 0)
    }
}
