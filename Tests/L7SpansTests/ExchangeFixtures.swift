import L7Events
import L7Protocols
@testable import L7Spans

/// Exchanges for span tests: a server at 10.0.0.1:8080 talking to a peer at
/// 10.0.0.2:40000 (or the mirror for a client), with distinct timestamps.
enum Fixtures {
    static let serverSocket = SocketAddress(ipv4: 10, 0, 0, 1, port: 8080)
    static let peerSocket = SocketAddress(ipv4: 10, 0, 0, 2, port: 40000)

    static let requestTiming = MessageTiming(firstEnterNs: 1_000, firstExitNs: 1_100, lastEnterNs: 1_200, lastExitNs: 1_300)
    static let responseTiming = MessageTiming(firstEnterNs: 5_000, firstExitNs: 5_100, lastEnterNs: 5_200, lastExitNs: 5_300)

    static func exchange(
        role: ConnectionRole = .server,
        method: String = "GET",
        target: String = "/",
        version: String = "1.1",
        headers: [(String, String)] = [("Host", "example.com")],
        status: Int? = 200,
        failure: ExchangeFailure? = nil,
        isTLS: Bool = false,
        requestBodySize: Int = 0,
        responseBodySize: Int = 0
    ) -> Exchange {
        let local = role == .client ? peerSocket : serverSocket
        let remote = role == .client ? serverSocket : peerSocket
        let connection = ConnectionInfo(key: ConnectionKey(tgid: 4242, connectionID: 7), role: role,
                                        local: local, remote: remote, isTLS: isTLS)
        let request = HTTPRequestHead(method: method, target: target, version: version,
                                      headers: HTTPHeaders(headers.map { (name: $0.0, value: $0.1) }))
        let response = status.map { HTTPResponseHead(status: $0, reason: "", version: version, headers: HTTPHeaders()) }
        return Exchange(connection: connection, request: request, response: response,
                        requestBodySize: requestBodySize, responseBodySize: responseBodySize,
                        requestTiming: requestTiming, responseTiming: status == nil ? nil : responseTiming,
                        failure: failure)
    }

    /// Clock offset 1_700_000_000 s, so Unix ns = monotonic + 1.7e18.
    static let clock = ClockConversion(offsetNs: 1_700_000_000_000_000_000)

    static func builder(_ options: SpanOptions = SpanOptions()) -> SpanBuilder {
        SpanBuilder(options: options, clock: clock, ids: SequentialIDGenerator())
    }

    static func span(_ exchange: Exchange, options: SpanOptions = SpanOptions()) -> SpanRecord {
        let b = builder(options)
        return b.span(for: exchange)
    }
}

extension SpanRecord {
    func string(_ key: String) -> String? {
        if case .string(let s)? = attribute(key) { return s }
        return nil
    }

    func int(_ key: String) -> Int64? {
        if case .int(let i)? = attribute(key) { return i }
        return nil
    }
}
