import BenchClock
import Foundation
import L7Events
import L7Linking
import L7Protocols
import L7Spans

// What linking adds per request (issue 15's budget: ~0.3 µs): the spans of
// both ends of keep-alive HTTP/1.1 requests on a few connections, built as
// the tracer builds them, once without the linker and once through it (both
// requests' starts, the server span's identity and match, the client span's
// identity, the watermark's advance). Thread CPU time, both in turn.
//
//   LinkBench [--json] [--rounds N] [--requests N] [--only spans|linked]
//
// `--only` runs one side once, for callgrind (bench/run.py counts both at two
// request counts: instructions hold still where times do not).

var json = false
var rounds = 7
var requests = 200_000
var only: Bool?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--json": json = true
    case "--rounds": rounds = Int(arguments.popFirst() ?? "") ?? rounds
    case "--requests": requests = Int(arguments.popFirst() ?? "") ?? requests
    case "--only": only = arguments.popFirst() == "linked"
    default:
        FileHandle.standardError.write(Data("usage: LinkBench [--json] [--rounds N] [--requests N] [--only spans|linked]\n".utf8))
        exit(2)
    }
}

let connections = 64
let serverAddress = SocketAddress(ipv4: 127, 0, 0, 1, port: 8080)
let clientInfos = (0..<connections).map { i in
    ConnectionInfo(key: ConnectionKey(tgid: 1, connectionID: UInt64(i + 1)), role: .client,
                   local: SocketAddress(ipv4: 127, 0, 0, 1, port: UInt16(40_000 + i)), remote: serverAddress, isTLS: false)
}
let serverInfos = (0..<connections).map { i in
    ConnectionInfo(key: ConnectionKey(tgid: 2, connectionID: UInt64(1_000 + i)), role: .server,
                   local: serverAddress, remote: SocketAddress(ipv4: 127, 0, 0, 1, port: UInt16(40_000 + i)), isTLS: false)
}
var headers = HTTPHeaders()
headers.append(name: "Host", value: "127.0.0.1:8080")
headers.append(name: "User-Agent", value: "h2load nghttp2/1.52.0")
let request = HTTPRequestHead(method: "GET", target: "/orders/42", version: "1.1", headers: headers)
let response = HTTPResponseHead(status: 200, reason: "OK", version: "1.1", headers: HTTPHeaders())
let resource = ProcessResource(pid: 2, attributes: [Attribute("service.name", .string("bench"))])

/// The client's calls are made by thread 1, the server's by thread 2 (one
/// thread serving every connection, as nginx's worker does): the rules that
/// look at threads run as they do for it.
let clientTid: UInt32 = 1
let serverTid: UInt32 = 2

func exchange(_ info: ConnectionInfo, _ sequence: UInt64, at t: UInt64, tid: UInt32) -> Exchange {
    var exchange = Exchange(connection: info, request: request, response: response, requestBodySize: 0,
                            responseBodySize: 5, requestTiming: MessageTiming(firstEnterNs: t, firstExitNs: t + 100,
                                                                              lastEnterNs: t, lastExitNs: t + 100,
                                                                              firstTid: tid),
                            responseTiming: MessageTiming(firstEnterNs: t + 300, firstExitNs: t + 400,
                                                          lastEnterNs: t + 300, lastExitNs: t + 400, firstTid: tid))
    exchange.position = .http1(sequence: sequence, exact: true)
    return exchange
}

/// One round: CPU ns for `requests` request pairs, and the spans linked.
func run(linking: Bool) -> (ns: UInt64, linked: Int) {
    let builder = SpanBuilder(clock: ClockConversion(offsetNs: 0))
    let linker = Linker()
    var sink = 0
    var linked = 0
    for info in clientInfos {
        linker.opened(ConnectionOpened(key: info.key, tid: clientTid, fd: 3, role: .client, local: info.local,
                                       remote: info.remote, timestampNs: 1))
    }
    for info in serverInfos {  // accepted by the thread that serves them
        linker.opened(ConnectionOpened(key: info.key, tid: serverTid, fd: 4, role: .server, local: info.local,
                                       remote: info.remote, timestampNs: 2))
    }
    let start = ThreadCPUClock.now()
    for n in 0..<requests {
        let connection = n % connections
        let sequence = UInt64(n / connections)
        let t = UInt64(n) * 1_000 + 1_000
        let client = exchange(clientInfos[connection], sequence, at: t, tid: clientTid)
        let server = exchange(serverInfos[connection], sequence, at: t + 50, tid: serverTid)
        if linking {
            // As the tracer does: both requests start (the client's write, the
            // server's read), the server's exchange ends, then the client's.
            linker.requestStarted(RequestStarted(connection: client.connection, position: client.position!,
                                                 timing: client.requestTiming)) { _, _ in sink += 1 }
            linker.requestStarted(RequestStarted(connection: server.connection, position: server.position!,
                                                 timing: server.requestTiming)) { _, _ in sink += 1 }
            let serverRecord = builder.span(for: server, identity: linker.serverIdentity(for: server))
            linker.serverSpan(serverRecord, resource: resource, of: server) { record, _ in
                if record.parentSpanID != nil { linked += 1 }
                sink &+= record.name.utf8.count
            }
            linker.clientSpan(client, resource: resource, build: { builder.span(for: client, identity: $0) }) { record, _ in
                sink &+= record.name.utf8.count
            }
            if n % 1024 == 1023 { linker.advance(watermarkNs: t) { _, _ in sink += 1 } }
        } else {
            sink &+= builder.span(for: client).name.utf8.count
            sink &+= builder.span(for: server).name.utf8.count
        }
    }
    linker.flushAll { _, _ in sink += 1 }
    let ns = ThreadCPUClock.now() - start
    if sink == 42 { print("") }  // keeps the work
    return (ns, linked)
}

if let only {
    let (_, linked) = run(linking: only)
    guard !only || linked == requests else { exit(1) }
    exit(0)
}

// Paired: each round runs both, in turn (the order alternates), and what
// linking adds is the difference within a round, whose median is reported.
var without: [Double] = []
var with: [Double] = []
var added: [Double] = []
var linkedPerRound = 0
_ = run(linking: false)  // warm-up
for round in 0..<rounds {
    var pair: [Bool: Double] = [:]
    for linking in round % 2 == 0 ? [false, true] : [true, false] {
        let (ns, linked) = run(linking: linking)
        pair[linking] = Double(ns) / Double(requests)
        if linking { linkedPerRound = linked }
    }
    without.append(pair[false]!)
    with.append(pair[true]!)
    added.append(pair[true]! - pair[false]!)
}
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
guard linkedPerRound == requests else {
    FileHandle.standardError.write(Data("LinkBench: \(linkedPerRound) of \(requests) server spans linked\n".utf8))
    exit(1)
}
if json {
    print("{\"requests\": \(requests), \"spans_ns\": \(median(without)), \"linked_ns\": \(median(with)), \"linking_ns\": \(median(added))}")
} else {
    print(String(format: "spans of both ends %.0f ns per request; with linking %.0f ns: linking %+.0f ns (%d requests, %d rounds)",
                 median(without), median(with), median(added), requests, rounds))
}
