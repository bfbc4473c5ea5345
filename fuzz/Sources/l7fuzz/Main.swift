// The fuzzer's entry point: `l7fuzz TARGET [libFuzzer flags] [corpus dirs]`.
// One binary for every target, so the instrumented libraries are linked once.
import Glibc

typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
typealias Argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<Argv?>,
                         _ callback: FuzzCallback) -> CInt

/// Each target takes one input; it traps (via `violated`) when an invariant fails.
let targets: [(name: String, run: FuzzCallback)] = [
    ("http1", { data, size in TrackerTarget.http1.run(Input(data, size)); return 0 }),
    ("http2", { data, size in TrackerTarget.http2.run(Input(data, size)); return 0 }),
    ("hpack", { data, size in HPACKTarget.run(Input(data, size)); return 0 }),
    ("huffman", { data, size in HuffmanTarget.run(Input(data, size)); return 0 }),
    ("traceparent", { data, size in TraceContextTarget.run(Input(data, size)); return 0 }),
    ("target", { data, size in RequestTargetTarget.run(Input(data, size)); return 0 }),
    ("resource", { data, size in ResourceAttributesTarget.run(Input(data, size)); return 0 }),
    ("record", { data, size in RecordTarget.run(Input(data, size)); return 0 }),
]

@_cdecl("l7fuzz_main")
func l7fuzzMain(_ argc: CInt, _ argv: Argv) -> CInt {
    // The target is the first argument; it is also put in the environment,
    // because libFuzzer's -fork and -jobs modes rerun the program with its own flags only.
    var argc = argc, args: Argv? = argv
    if argc >= 2, let first = argv[1].map({ String(cString: $0) }), !first.hasPrefix("-"), targets.contains(where: { $0.name == first }) {
        setenv("L7FUZZ_TARGET", first, 1)
        argv[1] = argv[0]
        argc -= 1
        args = argv + 1
    }
    let name = getenv("L7FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = targets.first(where: { $0.name == name }) else {
        fputs("usage: l7fuzz \(targets.map(\.name).joined(separator: "|")) [libFuzzer flags] [corpus…]\n", stderr)
        return 2
    }
    MemoryBudget.install()
    return LLVMFuzzerRunDriver(&argc, &args, target.run)
}

/// The input as bytes, lent for one call.
struct Input {
    let bytes: UnsafeRawBufferPointer
    init(_ data: UnsafePointer<UInt8>?, _ size: Int) { bytes = UnsafeRawBufferPointer(start: data, count: size) }
    var count: Int { bytes.count }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Reports a broken invariant and aborts: libFuzzer then saves the input as a crash.
func violated(_ what: @autoclosure () -> String) -> Never {
    fputs("l7fuzz: invariant violated: \(what())\n", stderr)
    abort()
}
