#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Checks made before touching libbpf, so that the usual setup problems get
/// a precise message instead of an errno from deep inside a load.
enum Preflight {
    static let btfPath = "/sys/kernel/btf/vmlinux"
    static let tracefsPath = "/sys/kernel/tracing"

    static func run() throws {
        guard hasBPFCapabilities() else { throw CaptureError.notPrivileged }
        guard access(btfPath, R_OK) == 0 else { throw CaptureError.noBTF }
        try ensureTracefs()
    }

    /// CAP_SYS_ADMIN (21), or both CAP_PERFMON (38) and CAP_BPF (39), in the
    /// effective set; root in a container may have neither.
    static func hasBPFCapabilities() -> Bool {
        guard let status = ProcFS.readFile("/proc/self/status", limit: 64 * 1024) else { return geteuid() == 0 }
        let text = String(decoding: status, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingSpaces, radix: 16)
        else { return geteuid() == 0 }
        let sysAdmin: UInt64 = 1 << 21, perfmon: UInt64 = 1 << 38, bpf: UInt64 = 1 << 39
        return mask & sysAdmin != 0 || (mask & perfmon != 0 && mask & bpf != 0)
    }

    /// libbpf finds tracepoint ids in tracefs; mount it where it is missing.
    static func ensureTracefs() throws {
        if access("\(tracefsPath)/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0 {
            return
        }
        if mount("tracefs", tracefsPath, "tracefs", 0, nil) != 0 {
            throw CaptureError.tracefsUnavailable(errno: errno)
        }
    }
}

private extension Substring {
    var trimmingSpaces: Substring {
        drop(while: { $0 == " " || $0 == "\t" }).prefix(while: { $0 != " " && $0 != "\t" })
    }
}
