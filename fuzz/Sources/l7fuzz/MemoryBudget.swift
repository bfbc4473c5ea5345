// Memory per input byte: the peak of live heap bytes while one input runs,
// above what was live before it, must stay under perByte × input + constant.
// ASan's allocator counts live bytes; a malloc hook keeps the peak.
import Glibc

@_silgen_name("__sanitizer_get_current_allocated_bytes")
func sanitizerAllocatedBytes() -> Int

@_silgen_name("__sanitizer_install_malloc_and_free_hooks")
func sanitizerInstallHooks(_ malloc: @convention(c) (UnsafeRawPointer?, Int) -> Void,
                           _ free: @convention(c) (UnsafeRawPointer?) -> Void) -> CInt

/// Set by the malloc hook; a plain global so that the hook never allocates.
nonisolated(unsafe) var peakAllocatedBytes = 0

enum MemoryBudget {
    /// Heap bytes allowed per input byte (an h2 frame or HTTP/1 head is kept
    /// at most once or twice; 64 leaves room for bookkeeping, not for copies).
    static let perByte = 64
    /// Heap bytes allowed whatever the input (connection state, tables, lists).
    static let constant = 512 * 1024

    static func install() {
        peakAllocatedBytes = 0
        _ = sanitizerInstallHooks({ _, _ in
            let now = sanitizerAllocatedBytes()
            if now > peakAllocatedBytes { peakAllocatedBytes = now }
        }, { _ in })
    }

    /// Runs `body` and traps when its peak heap use exceeds the budget of `inputBytes`.
    /// Live heap bytes when the current input started.
    nonisolated(unsafe) private static var baseline = 0

    static func check<R>(_ what: String, inputBytes: Int, _ body: () -> R) -> R {
        let before = sanitizerAllocatedBytes()
        baseline = before
        peakAllocatedBytes = before
        let result = body()
        let used = peakAllocatedBytes - before
        let budget = perByte * inputBytes + constant
        if used > budget {
            violated("\(what): peak heap \(used) bytes for an input of \(inputBytes) bytes (budget \(perByte) × input + \(constant) = \(budget))")
        }
        return result
    }

    /// What the state may keep once an input is consumed, whatever its size:
    /// queues and lists are bounded by the limits, not by the bytes seen.
    static func checkRetained(_ what: String, limit: Int = constant) {
        let kept = sanitizerAllocatedBytes() - baseline
        if getenv("L7FUZZ_VERBOSE") != nil { fputs("\(what): \(kept) heap bytes kept, peak \(peakAllocatedBytes - baseline)\n", stderr) }
        if kept > limit { violated("\(what): \(kept) heap bytes kept after the input (limit \(limit), whatever the input's size)") }
    }
}
