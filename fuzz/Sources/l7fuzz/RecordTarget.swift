// The kernel-record decoder: the input is a run of ring-buffer records (each
// u16le length + bytes, as the ring buffer hands them over, unaligned), and
// the events they decode to go on into a tracker, as the capture does.
import L7Events
@testable import L7CaptureRecords

enum RecordTarget {
    static func run(_ input: Input) {
        MemoryBudget.check("record", inputBytes: input.count) {
            let feeder = TrackerFeeder(limits: TrackerTarget.limits)
            var i = 0
            let bytes = input.bytes
            while i + 2 <= bytes.count {
                let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8
                let record = UnsafeRawBufferPointer(rebasing: bytes[(i + 2)..<min(bytes.count, i + 2 + n)])
                i += 2 + record.count
                guard let event = RecordDecoder.decode(record) else { continue }
                if case .data(let chunk) = event, chunk.bytes.count > 0 {
                    // Payload bytes lie inside the record.
                    let start = chunk.bytes.baseAddress!, end = start + chunk.bytes.count
                    if start < record.baseAddress! || end > record.baseAddress! + record.count {
                        violated("a data chunk points outside its record")
                    }
                }
                feeder.handle(event)
                feeder.checkBounds()
            }
            feeder.finish()
        }
    }
}
