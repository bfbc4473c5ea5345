@testable import L7Spans
import XCTest

final class ProcessResourceTests: XCTestCase {
    let builder = ProcessResourceBuilder()

    func environ(_ entries: [String]) -> [UInt8] {
        entries.flatMap { Array($0.utf8) + [0] }
    }

    func resource(exe: String = "server", _ env: [UInt8]?) -> ProcessResource {
        builder.resource(for: ProcessFacts(pid: 1234, executableName: exe, executablePath: "/usr/bin/\(exe)",
                                           environ: env, hostName: "host-a", startTime: 5678))
    }

    func string(_ r: ProcessResource, _ key: String) -> String? {
        if case .string(let s)? = r.attributes.first(where: { $0.key == key })?.value { return s }
        return nil
    }

    func testAttributesAndOrder() {
        let r = builder.resource(for: ProcessFacts(pid: 1234, executableName: "server", executablePath: "/usr/bin/server",
                                                   commandLine: ["server", "--password=x"], hostName: "host-a",
                                                   containerID: "abc123", startTime: 5678))
        XCTAssertEqual(r.pid, 1234)
        XCTAssertEqual(r.serviceName, "server")
        XCTAssertEqual(r.attributes.map(\.key), [
            "service.name", "service.instance.id", "process.pid", "process.executable.name", "process.executable.path",
            "host.name", "container.id", "telemetry.sdk.name", "telemetry.sdk.version",
        ])
        XCTAssertEqual(r.attributes.first { $0.key == "process.pid" }?.value, .int(1234))
        XCTAssertEqual(string(r, "telemetry.sdk.name"), "l7trace")
        XCTAssertEqual(string(r, "telemetry.sdk.version"), L7TraceVersion.current)
        XCTAssertEqual(string(r, "container.id"), "abc123")
        // host.name/pid/start time under the service.instance.id namespace (checked with Python's uuid.uuid5).
        XCTAssertEqual(string(r, "service.instance.id"), "15e7335c-0da9-56ab-8103-5d607f991780")
    }

    func testForkedChildIsWhatItsOwnProcfsWouldGive() {
        // A child forked without exec: same program, environment and host; its own pid.
        func facts(_ pid: UInt32, _ env: [UInt8]) -> ProcessFacts {
            ProcessFacts(pid: pid, executableName: "busybox", executablePath: "/usr/bin/busybox",
                         environ: env, hostName: "host-a", containerID: "c1")
        }
        for env in [environ(["PATH=/bin"]), environ(["OTEL_SERVICE_NAME=web", "OTEL_RESOURCE_ATTRIBUTES=team=a"]),
                    environ(["OTEL_RESOURCE_ATTRIBUTES=service.instance.id=fixed"])] {
            let parent = builder.resource(for: facts(10, env))
            let child = builder.resource(forkedFrom: parent, pid: 11)
            XCTAssertEqual(child, builder.resource(for: facts(11, env)))
            XCTAssertEqual(child.serviceName, parent.serviceName)
        }
        let parent = builder.resource(for: facts(10, environ(["PATH=/bin"])))
        XCTAssertNotEqual(string(builder.resource(forkedFrom: parent, pid: 11), "service.instance.id"),
                          string(parent, "service.instance.id"))
    }

    func testInstanceIDChangesWithStartTimeAndOptionalFacts() {
        let a = builder.resource(for: ProcessFacts(pid: 1, executableName: "x", hostName: "h", startTime: 1))
        let b = builder.resource(for: ProcessFacts(pid: 1, executableName: "x", hostName: "h", startTime: 2))
        XCTAssertNotEqual(string(a, "service.instance.id"), string(b, "service.instance.id"))
        XCTAssertNil(string(a, "container.id"))
        XCTAssertNil(string(a, "process.executable.path"))
        XCTAssertNil(a.attributes.first { $0.key == "process.command_args" })
        let withArgs = ProcessResourceBuilder(includeCommandArgs: true, sdkLanguage: "swift")
            .resource(pid: 1, executableName: "x", executablePath: nil, environment: nil, commandLine: ["x", "-v"],
                      hostName: "h", containerID: nil)
        XCTAssertEqual(withArgs.attributes.first { $0.key == "process.command_args" }?.value, .stringArray(["x", "-v"]))
        XCTAssertEqual(string(withArgs, "telemetry.sdk.language"), "swift")
    }

    func testServiceNameOrder() {
        XCTAssertEqual(resource(nil).serviceName, "server", "no environ: the executable")
        XCTAssertEqual(resource(environ(["PATH=/bin"])).serviceName, "server")
        XCTAssertEqual(resource(environ(["PATH=/bin", "OTEL_RESOURCE_ATTRIBUTES=service.name=from-attrs"])).serviceName, "from-attrs")
        XCTAssertEqual(resource(environ([
            "OTEL_RESOURCE_ATTRIBUTES=service.name=from-attrs", "OTEL_SERVICE_NAME=checkout",
        ])).serviceName, "checkout")
        XCTAssertEqual(resource(exe: "", nil).serviceName, "unknown_service")
        let gone = builder.resource(pid: 9, executableName: nil, executablePath: nil, environment: nil, commandLine: nil,
                                    hostName: "h", containerID: nil)
        XCTAssertEqual(gone.serviceName, "unknown_service")
        XCTAssertNil(gone.attributes.first { $0.key == "process.executable.name" })
    }

    func testResourceAttributesVariable() {
        let r = resource(environ([
            "OTEL_RESOURCE_ATTRIBUTES=service.namespace=shop, service.version=1.2%2C3,deployment.environment=prod,process.pid=1,",
        ]))
        XCTAssertEqual(r.serviceName, "server")
        XCTAssertEqual(string(r, "service.namespace"), "shop")
        XCTAssertEqual(string(r, "service.version"), "1.2,3", "percent-decoded")
        XCTAssertEqual(string(r, "deployment.environment"), "prod")
        XCTAssertEqual(r.attributes.first { $0.key == "process.pid" }?.value, .int(1234), "facts are not overridden")
        XCTAssertEqual(r.attributes.filter { $0.key == "process.pid" }.count, 1)
        XCTAssertEqual(Array(r.attributes.map(\.key).prefix(3)), ["service.name", "service.instance.id", "service.namespace"])

        let explicitInstance = resource(environ(["OTEL_RESOURCE_ATTRIBUTES=service.instance.id=pod-7"]))
        XCTAssertEqual(string(explicitInstance, "service.instance.id"), "pod-7")
    }

    func testMalformedResourceAttributesAreDiscardedWhole() {
        for bad in ["service.name=x,broken", "service.name=x,=v", "service.name=x,k=%zz", "service.name=x,k=%4", "service.name=x,k=%0A",
                    "service.name=x,k=%FF"] {
            let r = resource(environ(["OTEL_RESOURCE_ATTRIBUTES=" + bad, "OTHER=1"]))
            XCTAssertEqual(r.serviceName, "server", bad)
            XCTAssertNil(string(r, "k"), bad)
        }
    }

    func testGarbageServiceNamesAreSkipped() {
        let controls = resource(environ(["OTEL_SERVICE_NAME=bad\u{1}name", "OTEL_RESOURCE_ATTRIBUTES=service.name=good"]))
        XCTAssertEqual(controls.serviceName, "good")
        let long = resource(environ(["OTEL_SERVICE_NAME=" + String(repeating: "a", count: 257)]))
        XCTAssertEqual(long.serviceName, "server")
        let blank = resource(environ(["OTEL_SERVICE_NAME=  "]))
        XCTAssertEqual(blank.serviceName, "server")
        let trimmed = resource(environ(["OTEL_SERVICE_NAME= api "]))
        XCTAssertEqual(trimmed.serviceName, "api")
        let invalidUTF8 = resource(Array("OTEL_SERVICE_NAME=a".utf8) + [0xFF, 0xFE, 0])
        XCTAssertEqual(invalidUTF8.serviceName, "server")
        let unicode = resource(environ(["OTEL_SERVICE_NAME=café"]))
        XCTAssertEqual(unicode.serviceName, "café")
    }

    func testOverwrittenEnvironIsIgnored() {
        // nginx copies its environment away and pads the old area with the title and NULs.
        let padded = Array("nginx: worker process".utf8) + [UInt8](repeating: 0, count: 200)
        XCTAssertEqual(resource(exe: "nginx", padded).serviceName, "nginx")
        XCTAssertFalse(ProcessEnvironment(environ: padded).isTrusted)

        // The title's tail spilled over; original variables survive after it.
        let spilled = Array("ker process".utf8) + [0, 0, 0] + environ(["OTEL_SERVICE_NAME=stale", "PATH=/bin"])
        XCTAssertEqual(resource(exe: "nginx", spilled).serviceName, "nginx")

        // All NULs.
        XCTAssertEqual(resource(exe: "nginx", [UInt8](repeating: 0, count: 64)).serviceName, "nginx")

        // A title that looks like a variable, followed by padding and a real entry.
        let lookalike = environ(["A=b"]) + [0, 0] + environ(["OTEL_SERVICE_NAME=x"])
        XCTAssertEqual(resource(exe: "nginx", lookalike).serviceName, "nginx")

        // The valid block has its trailing NUL only.
        let valid = environ(["HOME=/root", "OTEL_SERVICE_NAME=web"])
        XCTAssertTrue(ProcessEnvironment(environ: valid).isTrusted)
        XCTAssertEqual(resource(exe: "nginx", valid).serviceName, "web")
        XCTAssertEqual(ProcessEnvironment(environ: valid).value("HOME"), "/root")
        XCTAssertNil(ProcessEnvironment(environ: valid).value("HOM"))
        XCTAssertTrue(ProcessEnvironment(environ: []).isTrusted)
    }

    func testFirstOccurrenceWinsLikeGetenv() {
        let env = ProcessEnvironment(environ: environ(["X=1", "X=2", "EMPTY="]))
        XCTAssertEqual(env.value("X"), "1")
        XCTAssertEqual(env.value("EMPTY"), "")
    }

    func testUUIDv5KnownVectors() {
        // Python: uuid.uuid5(uuid.UUID('4d63009a-8d0f-11ee-aad7-4c796ed8e320'), name)
        XCTAssertEqual(UUIDv5.string(namespace: UUIDv5.serviceInstanceNamespace, name: "x"), "6833eec6-9f91-52e2-b2eb-7999ad7f5cc4")
        XCTAssertEqual(UUIDv5.string(namespace: UUIDv5.serviceInstanceNamespace, name: ""), "778f72e5-f77c-594e-9915-b8a66fe1b88d")
        XCTAssertEqual(UUIDv5.string(namespace: UUIDv5.serviceInstanceNamespace.uppercased(), name: "host-a/1234/5678"),
                       "15e7335c-0da9-56ab-8103-5d607f991780")
        XCTAssertNil(UUIDv5.string(namespace: "not-a-uuid", name: "x"))
    }

    func testSHA1KnownVectors() {
        func hex(_ b: [UInt8]) -> String { b.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined() }
        XCTAssertEqual(hex(SHA1.hash([])), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex(SHA1.hash(Array("abc".utf8))), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 1000))), "291e9a6c66994949b57ba5e650361e98fc36b1ba")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x78, count: 55))), "cef734ba81a024479e09eb5a75b6ddae62e6abf1")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x78, count: 56))), "901305367c259952f4e7af8323f480d59f81335b")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x78, count: 64))), "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163")
    }
}
