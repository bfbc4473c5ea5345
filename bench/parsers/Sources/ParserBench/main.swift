import Foundation

// Parser throughput on recorded streams: ours (ConnectionTracker) next to
// llhttp for HTTP/1.1 and libnghttp2's session for HTTP/2, in one process.

let options: BenchOptions
do {
    options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch let error as BenchOptions.UsageError {
    FileHandle.standardError.write(Data((error.message + "\n").utf8))
    exit(2)
}

var figures = [[String: Any]]()
for name in options.protocols {
    let recording: Recording
    do {
        recording = try Recording(path: options.streams + "/\(name).l7rec")
    } catch {
        FileHandle.standardError.write(Data("ParserBench: \(error)\n".utf8))
        exit(1)
    }
    var subjects = [ParserReplay]()
    if options.only != .reference { subjects.append(TrackerReplay(recording: recording)) }
    if options.only != .ours {
        subjects.append(name == "http1" ? LLHTTPReplay(recording: recording) as ParserReplay
                                        : NGHTTP2Replay(recording: recording))
    }
    if options.withNIO && name == "http1" && options.only == nil { subjects.append(NIOHTTP1Replay(recording: recording)) }
    var comparison = Comparison(recording: recording, subjects: subjects, rounds: options.rounds,
                                iterations: options.iterations)
    let (measurements, iterations) = comparison.run()
    figures.append(Report.figure(protocolName: name == "http1" ? "HTTP/1.1" : "HTTP/2", recording: recording,
                                 measurements: measurements, rounds: options.rounds, iterations: iterations))
}
print(options.json ? Report.json(figures) : Report.text(figures))
