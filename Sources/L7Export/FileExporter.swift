import Glibc
import L7Spans
import Synchronization

/// Writes spans as OTLP JSON Lines (`--exporter file`): one `TracesData`
/// object per export, on its own line, to a file (appended to) or to
/// standard output. Each line is written with one `write` loop and the file
/// is not buffered by us, so a reader tailing it never sees half a batch.
public final class FileExporter: SpanExporter {
    public let path: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    /// The encoder's buffers and the open/closed state, one export (or shutdown) at a time.
    private let state = Mutex(State())

    private struct State {
        var encoder = OTLPJSONEncoder()
        var isShutDown = false
    }

    /// `path` `-` means standard output.
    public init(path: String) throws {
        self.path = path
        if path == "-" {
            descriptor = STDOUT_FILENO
            ownsDescriptor = false
        } else {
            // Spans describe every traced application's requests: readable by root only, whatever the umask.
            let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard opened >= 0 else {
                throw ExportConfigurationError("cannot open --output \(path): \(String(cString: strerror(errno)))")
            }
            descriptor = opened
            ownsDescriptor = true
        }
    }

    deinit { shutdown() }

    public func export(_ batches: [ResourceBatch]) -> ExportResult {
        state.withLock { state in
            guard !state.isShutDown else { return .permanentFailure("the exporter is shut down") }
            guard batches.contains(where: { !$0.spans.isEmpty }) else { return .success }
            let error = state.encoder.withEncodedLine(batches) { line in writeAll(line) }
            guard error == 0 else {
                return .permanentFailure("cannot write spans to \(path == "-" ? "standard output" : path): \(String(cString: strerror(error)))")
            }
            return .success
        }
    }

    public func shutdown() {
        state.withLock { state in
            guard !state.isShutDown else { return }
            state.isShutDown = true
            if ownsDescriptor { close(descriptor) }
        }
    }

    /// 0, or the errno that stopped the write.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return 0
    }
}
