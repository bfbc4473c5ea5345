/// Runs the subjects of one recording in the same process, alternating which
/// goes first each round, and keeps each one's median: the machine is shared,
/// so a figure only means something next to a baseline measured alongside it.
struct Comparison {
    var recording: Recording
    var subjects: [ParserReplay]
    var rounds: Int
    var iterations: Int?

    mutating func run() -> (measurements: [Measurement], iterations: Int) {
        // Warm-up (caches, allocator, lazy tables), and the size of a round.
        var firstReplays = [ReplayResult]()
        var slowest: UInt64 = 1
        for index in subjects.indices {
            let once = subjects[index].replay()
            firstReplays.append(once)
            slowest = max(slowest, once.cpuNs)
        }
        let perRound = iterations ?? max(1, Int(250_000_000 / slowest))
        var megabytes = [[Double]](repeating: [], count: subjects.count)
        var rates = [[Double]](repeating: [], count: subjects.count)
        let bytes = Double(recording.totalBytes)
        for round in 0..<rounds {
            let order = round % 2 == 0 ? Array(subjects.indices) : subjects.indices.reversed()
            for index in order {
                var cpuNs: UInt64 = 0
                var done = 0
                for _ in 0..<perRound {
                    let result = subjects[index].replay()
                    cpuNs += result.cpuNs
                    done += result.exchanges
                }
                let seconds = Double(max(cpuNs, 1)) / 1e9
                megabytes[index].append(bytes * Double(perRound) / seconds / 1e6)
                rates[index].append(Double(done) / seconds)
            }
        }
        let measurements = subjects.indices.map { index in
            Measurement(name: subjects[index].name, megabytesPerSecond: median(megabytes[index]),
                        exchangesPerSecond: median(rates[index]), exchangesPerReplay: firstReplays[index].exchanges,
                        fieldsPerReplay: firstReplays[index].fields)
        }
        return (measurements, perRound)
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2]
            : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
