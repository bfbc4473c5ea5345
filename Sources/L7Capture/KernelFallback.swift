import CProbes
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A kernel feature the probes use where the kernel has it, and what stands
/// in for it where it does not (bpf/compat.h). Each is chosen at load by
/// probing the kernel; `L7TRACE_KERNEL_FALLBACKS` ("all", or names joined by
/// commas) forces them on any kernel, for tests.
public struct KernelFallback: Sendable, Equatable {
    let feature: l7_kernel_feature
    /// The feature, as `L7TRACE_KERNEL_FALLBACKS` names it.
    public let name: String
    /// The kernel release that brought it.
    public let since: String
    /// What is done instead, and what that costs.
    public let instead: String

    /// Threads of traced processes the kernel can follow without task storage.
    public static let maxThreadStates = Int(L7_MAX_THREAD_STATES)

    public static let all: [KernelFallback] = [
        KernelFallback(feature: L7_FEATURE_TASK_STORAGE, name: "task-storage", since: "5.11",
                       instead: "thread states in a hash map of \(L7_MAX_THREAD_STATES) threads, freed at thread exit"),
        KernelFallback(feature: L7_FEATURE_TASK_BTF, name: "task-btf", since: "5.11",
                       instead: "task fields read with probes"),
        KernelFallback(feature: L7_FEATURE_TASK_PT_REGS, name: "task-pt-regs", since: "5.15",
                       instead: "read arguments saved at syscall entry (two programs per read)"),
    ]

    /// The one line said at start when any fallback is in use.
    public static func summary(_ fallbacks: [KernelFallback], kernelRelease: String = runningKernelRelease) -> String? {
        guard !fallbacks.isEmpty else { return nil }
        let items = fallbacks.map { "no \($0.name) (Linux \($0.since)): \($0.instead)" }
        return "l7trace: kernel \(kernelRelease), fallbacks in use: " + items.joined(separator: "; ")
    }

    public static var runningKernelRelease: String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: names.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
