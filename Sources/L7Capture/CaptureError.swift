/// Why capture could not start. Each description is one line that says what
/// is wrong and what to do about it.
public enum CaptureError: Error, CustomStringConvertible, Equatable {
    /// Neither root nor CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN).
    case notPrivileged
    /// The kernel has no BTF (/sys/kernel/btf/vmlinux), which CO-RE needs.
    case noBTF
    /// tracefs is not mounted and mounting it failed.
    case tracefsUnavailable(errno: Int32)
    /// The kernel refused to load a program (usually the verifier).
    case programRejected(program: String, errno: Int32, detail: String)
    /// The kernel refused to create a map (usually a map type it lacks).
    case mapRejected(map: String, errno: Int32, detail: String)
    /// The kernel lacks a feature that has no fallback.
    case kernelTooOld(detail: String)
    /// A program loaded but could not be attached to its tracepoint.
    case attachFailed(program: String, errno: Int32)
    case other(String)

    public var description: String {
        switch self {
        case .notPrivileged:
            return "loading eBPF programs needs root, or CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); run l7trace with sudo"
        case .noBTF:
            return "kernel without BTF (/sys/kernel/btf/vmlinux is missing); use a kernel built with CONFIG_DEBUG_INFO_BTF=y"
        case .tracefsUnavailable(let errno):
            return "tracefs is not mounted and mounting it failed (\(Self.errorName(errno))); run: mount -t tracefs tracefs /sys/kernel/tracing"
        case .programRejected(let program, let errno, let detail):
            let context = detail.isEmpty ? "" : " [\(detail)]"
            return "the kernel rejected BPF program '\(program)' (\(Self.errorName(errno)))\(context); rerun with L7TRACE_VERIFIER_LOG=1 to see the verifier log"
        case .mapRejected(let map, let errno, let detail):
            let context = detail.isEmpty ? "" : " [\(detail)]"
            return "the kernel refused to create BPF map '\(map)' (\(Self.errorName(errno)))\(context); it needs \(Self.featureNeeded(byMap: map)); l7trace needs Linux 5.10 or later with BTF"
        case .kernelTooOld(let detail):
            return "\(detail); l7trace needs Linux 5.10 or later with BTF (CONFIG_DEBUG_INFO_BTF=y)"
        case .attachFailed(let program, let errno):
            return "could not attach BPF program '\(program)' (\(Self.errorName(errno))); this kernel may lack its tracepoint (CONFIG_FTRACE_SYSCALLS)"
        case .other(let message):
            return message
        }
    }

    /// What the kernel must have to create each of the probes' maps.
    static func featureNeeded(byMap map: String) -> String {
        switch map {
        case "events": return "the BPF ring buffer (Linux 5.8)"
        case "threads": return "task storage (Linux 5.11)"
        case "conns", "self_ports", "ssl_fds": return "LRU hash maps (Linux 4.10)"
        case ".rodata", ".bss", ".data": return "mmapable global data (Linux 5.5)"
        default: return "BPF maps with BTF (Linux 5.2)"
        }
    }

    static func errorName(_ errno: Int32) -> String {
        guard let text = strerror(errno) else { return "errno \(errno)" }
        return "\(String(cString: text)), errno \(errno)"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
