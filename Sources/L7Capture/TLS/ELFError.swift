/// Why a file could not be read as an ELF image. The scan of a process's
/// executable gives up on such a file (nothing is claimed about it); it
/// never traps on one, whatever its bytes.
public enum ELFError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(errno: Int32)
    /// Not a regular file starting with the ELF magic.
    case notELF
    /// A class, byte order or layout this reader does not handle.
    case unsupported(String)
    /// The file ends before the named part does.
    case truncated(String)
    /// The named part is larger than any real file has it.
    case tooLarge(String)

    public var description: String {
        switch self {
        case .cannotOpen(let errno): return "cannot open (errno \(errno))"
        case .notELF: return "not an ELF file"
        case .unsupported(let what): return "unsupported ELF: \(what)"
        case .truncated(let what): return "truncated ELF: the file ends inside its \(what)"
        case .tooLarge(let what): return "corrupt ELF: its \(what) is implausibly large"
        }
    }
}
