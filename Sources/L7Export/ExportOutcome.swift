import COTLP

/// How a collector's answer reads to the batch processor (`result`), plus
/// the warning a partial success deserves (logged, never retried).
struct ExportOutcome: Equatable {
    var result: ExportResult
    var partialSuccessWarning: String?

    init(_ result: ExportResult, partialSuccessWarning: String? = nil) {
        self.result = result
        self.partialSuccessWarning = partialSuccessWarning
    }

    /// Success, with the warning an `ExportTraceServiceResponse` carrying
    /// `partial_success` deserves (rejected spans, or a message alone).
    static func success(responseMessage: ArraySlice<UInt8>, collector: String) -> ExportOutcome {
        var partial = cotlp_partial_success()
        let found = responseMessage.withUnsafeBufferPointer {
            cotlp_parse_export_response($0.baseAddress, $0.count, &partial)
        }
        guard found == 1 else { return ExportOutcome(.success) }
        let message = withUnsafeBytes(of: &partial.error_message) {
            String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
        }
        if partial.rejected_spans > 0 {
            return ExportOutcome(.success, partialSuccessWarning:
                "the collector at \(collector) rejected \(partial.rejected_spans) spans: \(message)")
        }
        if !message.isEmpty {
            return ExportOutcome(.success, partialSuccessWarning: "the collector at \(collector) warns: \(message)")
        }
        return ExportOutcome(.success)
    }

    /// A request that got no answer: refused, reset, timed out, TLS failed.
    static func transportFailure(_ failure: TransportFailure, url: String) -> ExportOutcome {
        let message = "cannot export to \(url): \(failure.reason)"
        return ExportOutcome(failure.isRetryable ? .retryableFailure(message) : .permanentFailure(message))
    }
}

/// Reads an OTLP/HTTP answer: 2xx is success (maybe partial); 429, 502, 503
/// and 504 are worth retrying, after `Retry-After` when the collector sent
/// one; anything else refuses the batch for good.
enum OTLPHTTPResponse {
    static func outcome(_ response: HTTPResponse, url: String, now: Double? = nil) -> ExportOutcome {
        switch response.status {
        case 200..<300:
            return .success(responseMessage: response.body[...], collector: url)
        case 429, 502, 503, 504:
            let delay = response.header("retry-after").flatMap { value in
                now.map { RetryAfter.seconds(value, now: $0) } ?? RetryAfter.seconds(value)
            }
            return ExportOutcome(.retryableFailure("cannot export to \(url): \(statusText(response))", retryAfter: delay))
        default:
            return ExportOutcome(.permanentFailure("cannot export to \(url): \(statusText(response))"))
        }
    }

    /// `HTTP 400` plus what the collector said, when it said something readable.
    private static func statusText(_ response: HTTPResponse) -> String {
        let type = response.header("content-type") ?? ""
        let message = response.body.withUnsafeBytes { CollectorMessage.text(body: $0, contentType: type) }
        return message.isEmpty ? "HTTP \(response.status)" : "HTTP \(response.status): \(message)"
    }
}

/// Reads an OTLP/gRPC answer: the `grpc-status` trailer (or, without one,
/// the HTTP status mapped to a code), `grpc-message`, and a RetryInfo in
/// `grpc-status-details-bin`, which is what makes RESOURCE_EXHAUSTED
/// retryable and says how long to wait.
enum OTLPGRPCResponse {
    static func outcome(_ response: HTTPResponse, url: String) -> ExportOutcome {
        let code: GRPCStatusCode
        if let status = response.header("grpc-status"), let value = Int(status) {
            code = GRPCStatusCode(rawValue: value)
        } else if response.status == 200 {
            // A 200 without grpc-status: the stream ended before the server finished.
            code = GRPCStatusCode(rawValue: 2)
        } else {
            code = .fromHTTPStatus(response.status)
        }
        if code == .ok {
            return .success(responseMessage: message(in: response.body), collector: url)
        }

        var text = response.header("grpc-message").map(percentDecoded) ?? ""
        var retryDelay: Double?
        if let details = response.header("grpc-status-details-bin").flatMap(Base64.decode) {
            var status = cotlp_rpc_status()
            let parsed = details.withUnsafeBufferPointer { cotlp_parse_rpc_status($0.baseAddress, $0.count, &status) }
            if parsed == 0 {
                if status.retry_delay_nanos >= 0 { retryDelay = Double(status.retry_delay_nanos) / 1e9 }
                if text.isEmpty {
                    text = withUnsafeBytes(of: &status.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                }
            }
        }
        var reason = "cannot export to \(url): gRPC \(code.name)"
        if !text.isEmpty { reason += ": " + CollectorMessage.clean(text) }
        if code.isRetryable(hasRetryInfo: retryDelay != nil) {
            return ExportOutcome(.retryableFailure(reason, retryAfter: retryDelay))
        }
        return ExportOutcome(.permanentFailure(reason))
    }

    /// The first length-prefixed message of a gRPC body (flag, 4-byte big-endian length, bytes).
    static func message(in body: [UInt8]) -> ArraySlice<UInt8> {
        guard body.count >= 5 else { return [] }
        let length = Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])
        return body[5..<min(body.count, 5 + length)]
    }

    /// grpc-message is percent-encoded UTF-8; a bad escape is kept as it is.
    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        return ExportConfiguration.percentDecoded(text) ?? text
    }
}
