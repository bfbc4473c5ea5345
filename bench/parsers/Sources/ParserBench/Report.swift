import Foundation

/// The figures as a table for people or one JSON object for bench/run.py.
enum Report {
    static func figure(protocolName: String, recording: Recording, measurements: [Measurement],
                       rounds: Int, iterations: Int) -> [String: Any] {
        var figure: [String: Any] = [
            "protocol": protocolName, "stream": recording.name, "bytes": recording.totalBytes,
            "recv_calls": recording.records.count, "connections": recording.connectionCount,
            "rounds": rounds, "replays_per_round": iterations,
            "parsers": measurements.map { m -> [String: Any] in
                ["name": m.name, "mb_per_s": rounded(m.megabytesPerSecond), "exchanges_per_s": rounded(m.exchangesPerSecond),
                 "exchanges_per_replay": m.exchangesPerReplay, "fields_per_replay": m.fieldsPerReplay]
            },
        ]
        // Ours against the first reference (llhttp / nghttp2); more references get their own.
        if measurements.count >= 2, measurements[1].megabytesPerSecond > 0 {
            figure["ratio"] = rounded(measurements[0].megabytesPerSecond / measurements[1].megabytesPerSecond, places: 3)
        }
        if measurements.count >= 3 {
            figure["other_ratios"] = Dictionary(uniqueKeysWithValues: measurements.dropFirst(2).map {
                ($0.name, rounded(measurements[0].megabytesPerSecond / $0.megabytesPerSecond, places: 3))
            })
        }
        return figure
    }

    static func json(_ figures: [[String: Any]]) -> String {
        let object: [String: Any] = ["unit": "median over rounds of thread CPU time", "figures": figures]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func text(_ figures: [[String: Any]]) -> String {
        var lines = [String]()
        for figure in figures {
            lines.append("\(figure["protocol"]!) — \(figure["stream"]!): \(figure["bytes"]!) bytes in \(figure["recv_calls"]!) recv calls, "
                         + "\(figure["connections"]!) connections; median of \(figure["rounds"]!) rounds × \(figure["replays_per_round"]!) replays (thread CPU time)")
            for parser in figure["parsers"] as! [[String: Any]] {
                let name = (parser["name"] as! String).padding(toLength: 10, withPad: " ", startingAt: 0)
                lines.append(String(format: "  %@ %9.1f MB/s %12.0f exchanges/s  (per replay: %d exchanges, %d fields)", name,
                                    parser["mb_per_s"] as! Double, parser["exchanges_per_s"] as! Double,
                                    parser["exchanges_per_replay"] as! Int, parser["fields_per_replay"] as! Int))
            }
            if let ratio = figure["ratio"] as? Double {
                let parsers = figure["parsers"] as! [[String: Any]]
                lines.append(String(format: "  ratio %@ / %@: %.2f (goal ≥ 0.50)", parsers[0]["name"] as! String,
                                    parsers[1]["name"] as! String, ratio))
            }
            for (name, ratio) in (figure["other_ratios"] as? [String: Double] ?? [:]).sorted(by: { $0.key < $1.key }) {
                lines.append(String(format: "  ratio %@ / %@: %.2f", (figure["parsers"] as! [[String: Any]])[0]["name"] as! String,
                                    name, ratio))
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func rounded(_ value: Double, places: Double = 1) -> Double {
        let scale = pow(10, places)
        return (value * scale).rounded() / scale
    }
}
