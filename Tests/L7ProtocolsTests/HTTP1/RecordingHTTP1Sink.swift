@testable import L7Protocols

/// A parser sink that writes down what the parser reported, in order, and
/// answers each response head with the next scripted request context
/// (`.ordinary` when the script is empty): the HTTP/1 parser alone, without
/// the session, queue or stitcher.
struct RecordingHTTP1Sink: HTTP1ParserSink {
    enum Event: Equatable {
        case request(method: String, target: String)
        case response(status: Int)
        case completed(HTTP1StartLine.Kind, bodySize: Int)
        case framingLost(HTTP1StartLine.Kind, bodySize: Int?)
        case incomplete(HTTP1StartLine.Kind, bodySize: Int)
        case dropped(HTTP1StartLine.Kind, HTTP1DropReason, headReported: Bool)
        case lostSync(HTTP1StartLine.Kind?, unexpectedBytes: Bool)
        case notHTTP
        case switched
    }

    var events: [Event] = []
    var skippedBytes = 0
    var contexts: [HTTP1RequestContext] = []

    mutating func requestBegan(_ head: consuming HTTPRequestHead, timing: MessageTiming) {
        events.append(.request(method: head.method, target: head.target))
    }
    mutating func responseBegan(_ head: consuming HTTPResponseHead, timing: MessageTiming) -> HTTP1RequestContext {
        events.append(.response(status: head.status))
        return contexts.isEmpty ? .ordinary : contexts.removeFirst()
    }
    mutating func messageCompleted(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        events.append(.completed(kind, bodySize: bodySize))
    }
    mutating func framingLost(_ kind: HTTP1StartLine.Kind, bodySize: Int?) {
        events.append(.framingLost(kind, bodySize: bodySize))
    }
    mutating func messageIncomplete(_ kind: HTTP1StartLine.Kind, bodySize: Int, timing: MessageTiming) {
        events.append(.incomplete(kind, bodySize: bodySize))
    }
    mutating func messageDropped(_ kind: HTTP1StartLine.Kind, reason: HTTP1DropReason, headReported: Bool,
                                 timing: MessageTiming) {
        events.append(.dropped(kind, reason, headReported: headReported))
    }
    mutating func lostSync(_ kind: HTTP1StartLine.Kind?, unexpectedBytes: Bool) {
        events.append(.lostSync(kind, unexpectedBytes: unexpectedBytes))
    }
    mutating func skipped(_ count: Int) { skippedBytes += count }
    mutating func notHTTP() { events.append(.notHTTP) }
    mutating func switchedProtocols() { events.append(.switched) }
}

/// One direction's parser and its recording sink, fed call by call.
struct ParserUnderTest {
    var parser: HTTP1Parser
    var sink = RecordingHTTP1Sink()
    private var clock: UInt64 = 1_000

    init(_ kind: HTTP1StartLine.Kind?, mode: HTTP1Parser.SeekMode = .detect, limits: TrackerLimits = .init()) {
        parser = HTTP1Parser(kind: kind, mode: mode, limits: limits)
    }

    /// One read or write call that moved `text`, of which the capture kept all but `hole` trailing bytes.
    mutating func call(_ text: String, hole: Int = 0) {
        call(Array(text.utf8), hole: hole)
    }

    mutating func call(_ bytes: [UInt8], hole: Int = 0) {
        clock += 1_000
        let timing = CallTiming(enterNs: clock, exitNs: clock + 10)
        bytes.withUnsafeBytes { parser.feed($0, timing: timing, startsCall: true, sink: &sink) }
        parser.skipHole(hole, timing: timing, sink: &sink)
        parser.callEnded(sink: &sink)
    }

    mutating func close() { parser.finish(sink: &sink) }
    var events: [RecordingHTTP1Sink.Event] { sink.events }
}
