// swift-tools-version:6.0
import PackageDescription

// Parser micro-benchmark: our parsers (through ConnectionTracker) next to
// llhttp and libnghttp2 in the same process. A package of its own so that the
// main build and CI never build swift-nio.
let package = Package(
    name: "l7trace-parser-bench",
    dependencies: [
        // Named: a path package is otherwise known by its folder's name (main, a worktree…).
        .package(name: "l7trace", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
    ],
    targets: [
        // libnghttp2's full session API (the reference for HTTP/2).
        .systemLibrary(name: "CNghttp2Session", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .target(name: "BenchClock"),
        .executableTarget(
            name: "ParserBench",
            dependencies: [
                "CNghttp2Session", "BenchClock",
                .product(name: "L7Protocols", package: "l7trace"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // What linking adds per request (bench/run.py's figure 6).
        .executableTarget(
            name: "LinkBench",
            dependencies: [
                "BenchClock",
                .product(name: "L7Protocols", package: "l7trace"),
                .product(name: "L7Spans", package: "l7trace"),
                .product(name: "L7Linking", package: "l7trace"),
            ]
        ),
    ],
    swiftLanguageModes: [.v5]
)
