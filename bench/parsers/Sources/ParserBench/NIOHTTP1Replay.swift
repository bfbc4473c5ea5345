import BenchClock
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Second HTTP/1.1 reference: swift-nio's complete decoders (llhttp plus
/// NIOHTTP1's `HTTPHeaders`, `ByteBuffer` reads and channel pipeline) in
/// `EmbeddedChannel`s. Per connection, client bytes go through an
/// `HTTPRequestDecoder`; server bytes through an `HTTPResponseDecoder`, which
/// learns each request's method from the request heads written outbound on its
/// channel, as a client's pipeline does. An exchange is a response's `.end`.
struct NIOHTTP1Replay: ParserReplay {
    let name = "NIOHTTP1"
    let recording: Recording

    init(recording: Recording) { self.recording = recording }

    mutating func replay() -> ReplayResult {
        let started = ThreadCPUClock.now()
        let counter = PartCounter()
        var channels = [(requests: EmbeddedChannel, responses: EmbeddedChannel)]()
        for _ in 0..<recording.connectionCount {
            let responses = EmbeddedChannel()
            let requests = EmbeddedChannel()
            try! responses.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(HTTPResponseDecoder()), ResponseCounter(counter: counter),
            ])
            try! requests.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(HTTPRequestDecoder()), RequestCounter(counter: counter, responses: responses),
            ])
            channels.append((requests, responses))
        }
        for record in recording.records {
            let channel = record.fromClient ? channels[record.connection].requests : channels[record.connection].responses
            try! channel.writeInbound(channel.allocator.buffer(bytes: record.bytes))
        }
        for pair in channels {
            _ = try? pair.requests.finish()
            _ = try? pair.responses.finish()
        }
        return ReplayResult(exchanges: counter.responses, fields: counter.fields, cpuNs: ThreadCPUClock.now() - started)
    }
}

/// Totals of one replay, shared by the handlers of every channel.
private final class PartCounter {
    var fields = 0
    var responses = 0
}

/// Counts request fields and hands each request head to the response
/// channel's decoder (so that it knows which answers have no body).
private final class RequestCounter: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    let counter: PartCounter
    let responses: EmbeddedChannel

    init(counter: PartCounter, responses: EmbeddedChannel) {
        self.counter = counter
        self.responses = responses
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            counter.fields += head.headers.count
            responses.write(HTTPClientRequestPart.head(head), promise: nil)
        }
    }
}

private final class ResponseCounter: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    let counter: PartCounter

    init(counter: PartCounter) { self.counter = counter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): counter.fields += head.headers.count
        case .body: break
        case .end: counter.responses += 1
        }
    }
}
