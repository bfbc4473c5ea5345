import Glibc
import L7Spans

/// Prints one readable line per span (see `ConsoleSpanFormatter`), the
/// default when no collector is configured. Each batch is written and
/// flushed at once so lines from one batch never interleave with others.
public final class ConsoleExporter: SpanExporter {
    private let formatter = ConsoleSpanFormatter()
    private let write: (String) -> Void

    /// `write` receives a batch's lines, each ending in a newline; by default
    /// they go to standard output.
    public init(write: @escaping (String) -> Void = ConsoleExporter.writeToStandardOutput) {
        self.write = write
    }

    public func export(_ batches: [ResourceBatch]) -> ExportResult {
        var text = ""
        for batch in batches {
            let service = batch.resource.serviceName
            for span in batch.spans {
                text += formatter.line(for: span, serviceName: service)
                text += "\n"
            }
        }
        if !text.isEmpty { write(text) }
        return .success
    }

    public func shutdown() {}

    public static func writeToStandardOutput(_ text: String) {
        fputs(text, stdout)
        fflush(stdout)
    }
}
