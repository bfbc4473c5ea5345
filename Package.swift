// swift-tools-version:6.0
import PackageDescription

// The BPF skeleton (Sources/CProbes/generated) and the protobuf-c code
// (Sources/COTLP/generated) are produced by `make` before `swift build`.
// Release builds skip the run-time exclusivity checks: the hot path mutates
// parser state held by classes, and each checked access costs a lookup in a
// thread-local set (a few percent of the tracer's CPU). Debug builds, which
// the tests use, keep the checks.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "l7trace",
    products: [
        .executable(name: "l7trace", targets: ["l7trace"]),
        // The pure layers, for the benchmarks that replay recorded traffic (bench/parsers).
        .library(name: "L7Protocols", targets: ["L7Protocols", "L7Events", "L7Basics"]),
        .library(name: "L7Spans", targets: ["L7Spans"]),
        .library(name: "L7Linking", targets: ["L7Linking"]),
        .library(name: "L7Export", targets: ["L7Export"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // C: the BPF skeleton behind a narrow open/attach/poll/close API.
        .target(
            name: "CProbes",
            exclude: ["generated"],
            linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]
        ),
        // C: protobuf-c code generated from proto/.
        .target(
            name: "COTLP",
            exclude: ["generated"],
            linkerSettings: [.linkedLibrary("protobuf-c"), .linkedLibrary("z")]
        ),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // C: libnghttp2, whose HPACK encoder the tests use as the reference.
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // C: glibc's <malloc.h>, to give a burst's freed heap back (HeapTrimmer).
        .systemLibrary(name: "CMalloc"),

        // Value types shared by capture and the pure layers (no I/O).
        .target(name: "L7Events", swiftSettings: hotPath),
        // Byte and text helpers every layer uses (percent-decoding, gRPC status names).
        .target(name: "L7Basics", swiftSettings: hotPath),
        .target(name: "L7Capture", dependencies: ["CProbes", "L7Events", "L7Basics"], swiftSettings: hotPath),
        .target(name: "L7Protocols", dependencies: ["L7Events", "L7Basics"], swiftSettings: hotPath),
        .target(name: "L7Spans", dependencies: ["L7Events", "L7Basics", "L7Protocols"], swiftSettings: hotPath),
        // Links server spans to the client spans that sent their requests (after
        // L7Spans: it holds built spans and patches their parent).
        .target(name: "L7Linking", dependencies: ["L7Events", "L7Protocols", "L7Spans"], swiftSettings: hotPath),
        .target(
            name: "L7Export",
            dependencies: [
                "L7Spans", "L7Basics", "COTLP", "CCurl", .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: hotPath
        ),
        .executableTarget(
            name: "l7trace",
            dependencies: [
                "L7Events", "L7Basics", "L7Capture", "L7Protocols", "L7Spans", "L7Linking", "L7Export", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        .testTarget(name: "L7BasicsTests", dependencies: ["L7Basics"]),
        .testTarget(name: "L7CaptureTests", dependencies: ["L7Capture", "CProbes", "L7Events"]),
        .testTarget(name: "L7ProtocolsTests", dependencies: ["L7Protocols", "CNghttp2"]),
        .testTarget(name: "L7SpansTests", dependencies: ["L7Spans"]),
        .testTarget(name: "L7LinkingTests", dependencies: ["L7Linking", "L7Spans", "L7Protocols", "L7Events"]),
        .testTarget(name: "L7ExportTests", dependencies: ["L7Export"]),
    ],
    swiftLanguageModes: [.v6]
)
