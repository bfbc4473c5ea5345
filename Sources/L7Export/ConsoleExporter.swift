import Glibc
import L7Spans

/// Prints one readable line per span (see `ConsoleSpanFormatter`), the
/// default when no collector is configured. Each batch is written and
/// flushed at once so lines from one batch never interleave with others.
public final class ConsoleExporter: SpanExporter {
    private let formatter = ConsoleSpanFormatter()
    private let write: @Sendable (String) -> Void

    /// `write` receives a batch's lines, each ending in a newline; by default
    /// they go to standard output.
    public init(write: @escaping @Sendable (String) -> Void = ConsoleExporter.writeToStandardOutput) {
        self.write = write
    }

    public func export(_ batches: [ResourceBatch]) -> ExportResult {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(batches.reduce(0) { $0 + $1.spans.count } * 128)
        for batch in batches {
            let service = batch.resource.serviceName
            for span in batch.spans {
                formatter.append(span, serviceName: service, to: &bytes)
                bytes.append(0x0A)
            }
        }
        if !bytes.isEmpty { write(String(decoding: bytes, as: UTF8.self)) }
        return .success
    }

    public func shutdown() {}

    public static func writeToStandardOutput(_ text: String) {
        // print writes through C's stdout (one locked fwrite), like fputs did; fflush(nil)
        // flushes it without naming the C global `stdout`, which Swift 6 counts as shared mutable state.
        print(text, terminator: "")
        fflush(nil)
    }
}
