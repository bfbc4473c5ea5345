// swift-tools-version:6.0
import PackageDescription

// Export-path micro-benchmark: the cost per span of each encoder (the wire
// encoder, protobuf-c's packer, OTLP JSON, the console line) and of the batch
// span processor's queue (locking included) on the same spans, run under callgrind by `make bench-export` (instruction counts are
// stable on a shared machine; times are not).
let package = Package(
    name: "l7trace-export-bench",
    dependencies: [
        // Named: a path package is otherwise known by its folder's name (main, a worktree…).
        .package(name: "l7trace", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "ExportBench",
            dependencies: [
                .product(name: "L7Export", package: "l7trace"),
                .product(name: "L7Spans", package: "l7trace"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
    ],
    swiftLanguageModes: [.v5]
)
