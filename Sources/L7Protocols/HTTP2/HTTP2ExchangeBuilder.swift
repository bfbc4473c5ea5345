import L7Basics
import L7Events

/// Builds the exchange of one finished HTTP/2 stream: pseudo-headers become
/// the request and response heads, unknown fields are listed as such, and
/// gRPC calls get their status (RFC 9113 §8, gRPC's PROTOCOL-HTTP2.md).
///
/// It keeps the stream's parts, not the stream: copying a whole stream (both
/// sides and its header list) for every exchange showed in profiles.
struct HTTP2ExchangeBuilder {
    let connection: ConnectionInfo
    let streamID: UInt32
    let resetCode: UInt32?
    let refused: Bool
    let fields: HPACKHeaderList
    let request: HTTP2Stream.Side
    let requestFirst: CallTiming
    let response: HTTP2Stream.Side

    init(connection: ConnectionInfo, stream: HTTP2Stream, requestDirection: Direction, requestFirst: CallTiming) {
        self.connection = connection
        streamID = stream.id
        resetCode = stream.resetCode
        refused = stream.refused
        fields = stream.fields
        request = stream[requestDirection]
        response = stream[requestDirection == .egress ? .ingress : .egress]
        self.requestFirst = requestFirst
    }

    private var requestFields: Range<Int> { request.head ?? 0..<0 }
    private var responseHead: Range<Int> { response.head ?? 0..<0 }
    private var responseTrailers: Range<Int> { response.trailers ?? 0..<0 }

    func build() -> Exchange? {
        var undecoded: UndecodedFields = []
        // A request head that was lost, or that has fields we could not
        // decode, may have carried any pseudo-header we did not see.
        let requestUncertain = request.head == nil || request.fieldsOmitted || fields.hasUnknown(in: requestFields)
        let method = known(":method", uncertain: requestUncertain, flag: .method, &undecoded)
        let path = known(":path", uncertain: requestUncertain, flag: .target, &undecoded)
        _ = known(":authority", uncertain: requestUncertain, flag: .authority, &undecoded)
        if method == nil && !undecoded.contains(.method) { return nil }  // not a request
        if requestUncertain { undecoded.insert(.otherFields) }

        let head = HTTPRequestHead(method: method ?? "", target: path ?? "", version: "2",
                                   headers: headers(requestFields))

        var responseHead: HTTPResponseHead?
        if response.head != nil {
            if let status = fields.value(of: ":status", in: self.responseHead).flatMap({ Int($0) }) {
                responseHead = HTTPResponseHead(status: status, reason: "", version: "2",
                                                headers: headers(self.responseHead, responseTrailers))
            } else if fields.hasUnknown(in: self.responseHead) {
                undecoded.insert(.status)
            } else {
                return nil  // a response without :status
            }
            if response.fieldsOmitted || fields.hasUnknown(in: self.responseHead) || fields.hasUnknown(in: responseTrailers) {
                undecoded.insert(.otherFields)
            }
        } else if response.headerBlockLost {
            undecoded.insert(.status)
        }

        var failure: ExchangeFailure?
        if refused {
            failure = .streamRefused
        } else if let code = resetCode, !(code == HTTP2ErrorCode.noError && response.ended) {
            failure = .streamReset
        } else if !response.ended {
            failure = response.head == nil && !response.headerBlockLost ? .connectionClosed : .responseIncomplete
        }

        let responseTiming = response.first.map { first in
            Self.timing(first, response.last ?? first)
        }
        var exchange = Exchange(connection: connection, request: head, response: responseHead,
                                requestBodySize: request.dataBytes, responseBodySize: response.dataBytes,
                                requestTiming: Self.timing(requestFirst, request.last ?? requestFirst),
                                responseTiming: responseTiming, failure: failure)
        exchange.streamID = streamID
        exchange.position = .http2(stream: streamID)
        exchange.streamErrorCode = resetCode.flatMap { $0 == HTTP2ErrorCode.noError && failure == nil ? nil : $0 }
        exchange.grpc = grpcInfo(status: responseHead?.status, failure: failure, undecoded: &undecoded)
        exchange.undecoded = undecoded
        return exchange
    }

    /// The known fields of `range`, then of `more`, as HTTP headers (fields
    /// with an unknown part are left out), copied as bytes: no String is made.
    private func headers(_ range: Range<Int>, _ more: Range<Int> = 0..<0) -> HTTPHeaders {
        let spans = (byteSpan(of: range), byteSpan(of: more))
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields: range.count + more.count, bytes: spans.0.count + spans.1.count)
        appendKnownFields(range, spanning: spans.0, to: &headers)
        appendKnownFields(more, spanning: spans.1, to: &headers)
        return headers
    }

    /// The bytes of the list that the known fields of `range` lie in.
    private func byteSpan(of range: Range<Int>) -> Range<Int> {
        var lower = Int.max, upper = 0
        for i in range where fields.fields[i].isComplete {
            let f = fields.fields[i]
            lower = min(lower, Int(f.nameStart), Int(f.valueStart))
            upper = max(upper, Int(f.nameStart + f.nameCount), Int(f.valueStart + f.valueCount))
        }
        return lower <= upper ? lower..<upper : 0..<0  // lower > upper: no known field
    }

    /// One copy of the bytes the fields lie in, then an entry per field (two
    /// appends per field cost more than the copy of a whole head).
    private func appendKnownFields(_ range: Range<Int>, spanning span: Range<Int>, to headers: inout HTTPHeaders) {
        let offset = fields.bytes.withUnsafeBytes { headers.appendBlock(UnsafeRawBufferPointer(rebasing: $0[span])) } - span.lowerBound
        for i in range where fields.fields[i].isComplete {
            let f = fields.fields[i]
            let name = Int(f.nameStart) + offset, value = Int(f.valueStart) + offset
            headers.appendField(name: name..<(name + Int(f.nameCount)), value: value..<(value + Int(f.valueCount)))
        }
    }

    /// The value of a request pseudo-header; nil and flagged when it may have been sent but is unknown.
    private func known(_ name: StaticString, uncertain: Bool, flag: UndecodedFields,
                       _ undecoded: inout UndecodedFields) -> String? {
        if let i = fields.firstIndex(of: name, in: requestFields) {
            if let value = fields.value(at: i) { return value }
            undecoded.insert(flag)
            return nil
        }
        if uncertain { undecoded.insert(flag) }
        return nil
    }

    /// The first field named `name` in the response head, then its trailers.
    private func responseFieldIndex(_ name: StaticString) -> Int? {
        fields.firstIndex(of: name, in: responseHead) ?? fields.firstIndex(of: name, in: responseTrailers)
    }

    private func grpcInfo(status: Int?, failure: ExchangeFailure?, undecoded: inout UndecodedFields) -> GRPCCallInfo? {
        let requestContentType = fields.firstIndex(of: "content-type", in: requestFields)
        let isGRPC = isGRPCContentType(at: requestContentType) || isGRPCContentType(at: responseFieldIndex("content-type"))
            || responseFieldIndex("grpc-status") != nil
        guard isGRPC else {
            if fields.hasUnknown(in: requestFields) && requestContentType.flatMap(fields.value(at:)) == nil {
                undecoded.insert(.contentType)
            }
            return nil
        }
        let responseHasUnknown = fields.hasUnknown(in: responseHead) || fields.hasUnknown(in: responseTrailers)
        var info = GRPCCallInfo(statusCode: nil, requestMessages: request.messages.count,
                                responseMessages: response.messages.count)
        if let text = responseFieldIndex("grpc-status").flatMap(fields.value(at:)), let code = Int(text) {
            info.statusCode = code
            info.statusMessage = responseFieldIndex("grpc-message").flatMap(fields.value(at:)).map(Self.percentDecoded)
        } else if responseHasUnknown || response.headerBlockLost {
            // The trailers may have said it; we cannot tell what.
            undecoded.insert(.grpcStatus)
        } else if let code = resetCode, failure == .streamReset || failure == .streamRefused {
            info.statusCode = failure == .streamRefused ? 14 : Self.grpcCode(rstStream: code)
        } else if let status, status != 200 {
            info.statusCode = Self.grpcCode(httpStatus: status)
        } else if response.ended {
            info.statusCode = 2  // UNKNOWN: ended without grpc-status
        } else {
            // The connection ended first: the client sees UNAVAILABLE, the server CANCELLED.
            info.statusCode = connection.role == .server ? 1 : 14
        }
        return info
    }

    /// Whether field `i`'s value is a gRPC content type, compared as bytes.
    private func isGRPCContentType(at i: Int?) -> Bool {
        guard let i else { return false }
        return fields.withField(i) { _, value in value.map(Self.isGRPCContentType) ?? false }
    }

    /// `application/grpc`, alone or followed by `+format` or `;parameters`.
    static func isGRPCContentType(_ value: UnsafeRawBufferPointer) -> Bool {
        let prefix: StaticString = "application/grpc"
        let n = prefix.utf8CodeUnitCount
        guard value.count >= n else { return false }
        let matches = prefix.withUTF8Buffer { p in (0..<n).allSatisfy { value[$0] == p[$0] } }
        return matches && (value.count == n || value[n] == UInt8(ascii: "+") || value[n] == UInt8(ascii: ";"))
    }

    /// gRPC's http-grpc-status-mapping.md.
    static func grpcCode(httpStatus: Int) -> Int { GRPCStatus.code(httpStatus: httpStatus) }

    /// gRPC's mapping of RST_STREAM codes.
    static func grpcCode(rstStream code: UInt32) -> Int {
        switch code {
        case HTTP2ErrorCode.cancel: return 1
        case HTTP2ErrorCode.refusedStream: return 14
        case HTTP2ErrorCode.enhanceYourCalm: return 8
        case HTTP2ErrorCode.inadequateSecurity: return 7
        default: return 13
        }
    }

    /// `grpc-message` is percent-encoded UTF-8; invalid escapes stay as they are.
    static func percentDecoded(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        // `.keep` never fails; a result that is not UTF-8 is repaired (U+FFFD), as before.
        return String(decoding: PercentDecoding.decode(text, badEscape: .keep) ?? Array(text.utf8), as: UTF8.self)
    }

    static func timing(_ first: CallTiming, _ last: CallTiming) -> MessageTiming {
        MessageTiming(firstEnterNs: first.enterNs, firstExitNs: first.exitNs, lastEnterNs: last.enterNs,
                      lastExitNs: last.exitNs, firstTid: first.tid)
    }
}

extension HTTP2ExchangeBuilder {
    /// What a finished stream makes.
    enum Outcome {
        case built(Exchange)
        /// Not a request, or a response without `:status`.
        case malformed
        /// Neither side's head says which side made the request.
        case noRequestSide
        /// A response to a request the capture never saw.
        case orphanResponse
        case nothing
    }

    /// The exchange of a finished stream, read where the stream lies (no copy of it).
    static func outcome(of stream: HTTP2Stream, connection: ConnectionInfo) -> Outcome {
        let requestDirection: Direction
        switch connection.role {
        case .client: requestDirection = .egress
        case .server: requestDirection = .ingress
        case .unknown:
            if let head = stream.egress.head, stream.fields.has(":method", in: head) { requestDirection = .egress }
            else if let head = stream.ingress.head, stream.fields.has(":method", in: head) { requestDirection = .ingress }
            else { return .noRequestSide }
        }
        let requestSide = stream[requestDirection]
        // A request whose head was lost was counted then (each loss counts once).
        if requestSide.head == nil && requestSide.headerBlockLost { return .nothing }
        guard requestSide.seen, let requestFirst = requestSide.first else {
            return stream[requestDirection == .egress ? .ingress : .egress].seen ? .orphanResponse : .nothing
        }
        let builder = HTTP2ExchangeBuilder(connection: connection, stream: stream, requestDirection: requestDirection,
                                           requestFirst: requestFirst)
        return builder.build().map(Outcome.built) ?? .malformed
    }
}
