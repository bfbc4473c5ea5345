import Foundation

/// Command line: `ParserBench [--json] [--rounds N] [--iterations N]
/// [--only ours|reference] [--protocol http1|http2] [--streams DIR] [--nio]`.
struct BenchOptions {
    enum Only: String { case ours, reference }

    var json = false
    var rounds = 7
    /// Replays per parser per round; nil: enough for about a quarter second.
    var iterations: Int?
    /// Run one side only (for callgrind: `--only ours --iterations 20 --rounds 1`).
    var only: Only?
    var protocols = ["http1", "http2"]
    /// Also swift-nio's whole HTTP/1.1 decoders (EmbeddedChannel) as a second reference.
    var withNIO = false
    /// The recordings; by default the package's own streams/ folder.
    var streams = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../streams").standardized.path

    static let usage = """
        usage: ParserBench [--json] [--rounds N] [--iterations N] [--only ours|reference]
                           [--protocol http1|http2] [--streams DIR] [--nio]
        """

    init(arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw UsageError(message: "\(flag) needs a value") }
            return next
        }
        func number(_ flag: String) throws -> Int {
            guard let n = Int(try value(flag)), n > 0 else { throw UsageError(message: "\(flag) needs a positive number") }
            return n
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--json": json = true
            case "--nio": withNIO = true
            case "--rounds": rounds = try number(argument)
            case "--iterations": iterations = try number(argument)
            case "--only":
                guard let side = Only(rawValue: try value(argument)) else { throw UsageError(message: Self.usage) }
                only = side
            case "--protocol":
                let name = try value(argument)
                guard ["http1", "http2"].contains(name) else { throw UsageError(message: Self.usage) }
                protocols = [name]
            case "--streams": streams = try value(argument)
            case "-h", "--help": throw UsageError(message: Self.usage)
            default: throw UsageError(message: "unknown argument \(argument)\n\(Self.usage)")
            }
        }
    }

    struct UsageError: Error { var message: String }
}
