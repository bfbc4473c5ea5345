// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets (make fuzz). A package of its own so that the main build
// and CI's main build never see the sanitizer flags. The library sources are
// symlinked in (Sources/L7Protocols → ../../Sources/L7Protocols, …) and built
// here with coverage instrumentation: a path dependency on the root package
// would build them without it, and the fuzzer would run blind. Only
// RecordDecoder.swift of L7Capture is linked in (the rest needs libbpf), with
// the ABI header of CProbes.
let instrumented: [SwiftSetting] = [.unsafeFlags([
    "-sanitize=fuzzer,address",
    "-sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table",
    // Keeps the bounds checks that -O removes from buffer pointers.
    "-assert-config", "Debug",
    // Harnesses reach internal parsers (HPACKDecoder, RecordDecoder…) with @testable import.
    "-enable-testing",
])]

let package = Package(
    name: "l7trace-fuzz",
    targets: [
        .target(name: "CProbes"),
        .target(name: "L7Events", swiftSettings: instrumented),
        .target(name: "L7Basics", swiftSettings: instrumented),
        .target(name: "L7Protocols", dependencies: ["L7Events", "L7Basics"], swiftSettings: instrumented),
        .target(name: "L7Spans", dependencies: ["L7Events", "L7Basics", "L7Protocols"], swiftSettings: instrumented),
        .target(name: "L7CaptureRecords", dependencies: ["CProbes", "L7Events"], swiftSettings: instrumented),
        .executableTarget(
            name: "l7fuzz",
            dependencies: ["L7Events", "L7Protocols", "L7Spans", "L7CaptureRecords"],
            swiftSettings: instrumented + [.unsafeFlags(["-parse-as-library"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])]
        ),
    ],
    swiftLanguageModes: [.v5]
)
