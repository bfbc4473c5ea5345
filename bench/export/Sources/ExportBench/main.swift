import Glibc
import L7Export
import L7Spans
import Logging

// Usage: ExportBench wire|protobuf-c|json|console|processor [batches]
// Encodes `batches` batches of 512 spans shaped like nginx's server spans
// (the attributes SpanBuilder gives an HTTP/1.1 request) and prints a
// checksum so that the work cannot be optimised away. Per-span cost:
// (instructions of a run with N batches − with 0) / (N × 512).

func span(_ n: Int) -> SpanRecord {
    let id = UInt64(n) &* 0x9E37_79B9_7F4A_7C15 | 1
    return SpanRecord(
        traceID: TraceID(high: id, low: id ^ 0x5555), spanID: SpanID(id), parentSpanID: n % 2 == 0 ? SpanID(id >> 1) : nil,
        name: "GET /users/*/orders", kind: .server, startUnixNano: 1_764_017_941_123_456_789 &+ UInt64(n) * 1000,
        endUnixNano: 1_764_017_941_123_556_789 &+ UInt64(n) * 1000,
        attributes: [
            Attribute("http.request.method", .string("GET")),
            Attribute("url.scheme", .string("http")),
            Attribute("url.path", .string("/users/\(n)/orders")),
            Attribute("url.query", .string("page=2&sort=asc")),
            Attribute("http.route", .string("/users/*/orders")),
            Attribute("client.address", .string("127.0.0.1")),
            Attribute("server.address", .string("127.0.0.1")),
            Attribute("server.port", .int(8080)),
            Attribute("network.peer.address", .string("127.0.0.1")),
            Attribute("network.peer.port", .int(40000 + Int64(n % 20000))),
            Attribute("network.protocol.version", .string("1.1")),
            Attribute("user_agent.original", .string("h2load nghttp2/1.52.0")),
            Attribute("http.response.status_code", .int(200)),
            Attribute("http.response.body.size", .int(6)),
        ],
        statusCode: .unset, flags: 0x101, pid: 4242)
}

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : "wire"
let batches = arguments.count > 2 ? Int(arguments[2])! : 20
let resource = ProcessResource(pid: 4242, attributes: [
    Attribute("service.name", .string("nginx")), Attribute("process.pid", .int(4242)),
    Attribute("host.name", .string("bench-host")), Attribute("telemetry.sdk.name", .string("l7trace")),
])
let spans = (0..<512).map(span)
let batch = [ResourceBatch(resource: resource, spans: spans)]

var checksum = 0
switch mode {
case "wire":
    let encoder = OTLPWireEncoder()
    for _ in 0..<batches { checksum &+= encoder.withEncodedRequest(batch, headroom: 0) { $0.count } }
case "protobuf-c":
    let encoder = OTLPEncoder()
    for _ in 0..<batches { checksum &+= encoder.withEncodedRequest(batch) { $0.count } }
case "json":
    var encoder = OTLPJSONEncoder()
    for _ in 0..<batches { checksum &+= encoder.withEncodedLine(batch) { $0.count } }
case "console":
    let formatter = ConsoleSpanFormatter()
    for _ in 0..<batches { for span in spans { checksum &+= formatter.line(for: span, serviceName: "nginx").utf8.count } }
case "processor":  // the capture thread's add() and the export thread's batching, locks included
    var configuration = BatchConfiguration()
    configuration.maxQueueSize = batches * spans.count + 1  // nothing dropped: the queue path only
    configuration.scheduleDelay = 3600
    let processor = BatchSpanProcessor(exporter: NoopSpanExporter(), configuration: configuration,
                                       logger: Logger(label: "bench"))
    for _ in 0..<batches { for span in spans { processor.add(span, resource: resource) } }
    processor.shutdown(timeout: 60)
    checksum = Int(processor.counters.spansExported)
case "dump":  // one batch's request body on standard output, to try compressors on
    let bytes = OTLPWireEncoder().encode(batch)
    bytes.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, stdout) }
    exit(0)
default:
    fatalError("mode: wire, protobuf-c, json, console, processor or dump")
}
print(checksum)
