// capdump: loads L7Capture and prints one `Capture.describe` line per event,
// the way `l7trace --dump-events` does, plus a few debug switches the
// capture tests need. Built on the fly by Tests/e2e/test_capture.py; not part
// of Package.swift.
import Glibc
import L7Capture
import L7Events

var options = CaptureOptions()
var duration = 30.0
var ignoreAfterFirstData = false
var selfConnectPort: UInt16?
var verdicts: [(UInt32, Bool)] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func value() -> String {
        guard let v = arguments.popFirst() else { fputs("capdump: \(argument) needs a value\n", stderr); exit(2) }
        return v
    }
    switch argument {
    case "--port": options.ports.append(UInt16(value())!)
    case "--pid": options.pids.append(UInt32(value())!); if options.processMode == .all { options.processMode = .listed }
    case "--mode": options.processMode = ["all": .all, "listed": .listed, "decide": .decide][value()]!
    case "--duration": duration = Double(value())!
    case "--capture-bytes": options.captureBytesPerCall = Int(value())!
    case "--ring-bytes": options.ringBufferBytes = Int(value())!
    case "--ignore-after-first-data": ignoreAfterFirstData = true
    case "--self-connect": selfConnectPort = UInt16(value())!
    case "--trace-pid": verdicts.append((UInt32(value())!, true))
    case "--ignore-pid": verdicts.append((UInt32(value())!, false))
    case "--dump-events": break
    default: fputs("capdump: unknown argument \(argument)\n", stderr); exit(2)
    }
}

var running: sig_atomic_t = 1
signal(SIGINT) { _ in running = 0 }
signal(SIGTERM) { _ in running = 0 }

let capture: Capture
do {
    capture = try Capture(options: options)
} catch {
    fputs("l7trace: \(error)\n", stderr)
    exit(1)
}
for (pid, trace) in verdicts { capture.setProcessVerdict(pid, trace: trace) }
setvbuf(stdout, nil, _IOFBF, 1 << 16)
fputs("l7trace: ready pid=\(getpid())\n", stderr)

/// Makes one HTTP request from the tracer's own process, as an exporter would.
func requestFromSelf(port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { fputs("capdump: self request failed\n", stderr); return }
    let request = "GET /from-the-tracer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    _ = request.withCString { write(fd, $0, strlen($0)) }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while read(fd, &buffer, buffer.count) > 0 {}
    fputs("capdump: self request done\n", stderr)
}

var ignored = Set<ConnectionKey>()
let deadline = MonotonicClock.nowNs() + UInt64(duration * 1e9)
var nonEmptyPolls = 0, records = 0, mostPerPoll = 0
while running != 0 && MonotonicClock.nowNs() < deadline {
    let count = capture.poll(timeoutMs: 50) { event in
        print(Capture.describe(event))
        if ignoreAfterFirstData, case .data(let chunk) = event, ignored.insert(chunk.key).inserted {
            capture.ignoreConnection(tgid: chunk.key.tgid, fd: chunk.fd, connectionID: chunk.key.connectionID)
            print("ignored tgid=\(chunk.key.tgid) conn=\(chunk.key.connectionID)")
        }
    }
    if count > 0 {
        nonEmptyPolls += 1
        records += count
        mostPerPoll = max(mostPerPoll, count)
    }
    fflush(stdout)
    if let port = selfConnectPort {
        selfConnectPort = nil
        requestFromSelf(port: port)
    }
}
_ = capture.poll(timeoutMs: 0) { print(Capture.describe($0)) }
let c = capture.counters()
print("counters events=\(c.events) lost=\(c.lostEvents) lostbytes=\(c.lostBytes) uncaptured=\(c.uncapturedBytes) filtered=\(c.filteredEvents) wakeups=\(c.wakeups)")
print("polls nonempty=\(nonEmptyPolls) records=\(records) most=\(mostPerPoll)")
capture.close()
capture.close()
fflush(stdout)
