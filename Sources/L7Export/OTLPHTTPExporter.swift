import CCurl
import COTLP
import Glibc
import L7Spans
import Logging

/// Sends spans as OTLP/HTTP protobuf (`POST …/v1/traces`) through libcurl.
///
/// One easy handle is kept for the exporter's life, so the connection to the
/// collector stays open between batches. Each call blocks the calling thread
/// (the batch processor's) for at most `timeout`.
public final class OTLPHTTPExporter: SpanExporter {
    public let url: String
    private let logger: Logger
    private let encoder = OTLPEncoder()
    private let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// The response body of the request in flight, filled by curl's write callback.
    private let response = ResponseBody()
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private let lock = Mutex()
    private var isShutDown = false
    private var partialSuccessWarnings: RateLimiter

    /// - Parameters:
    ///   - timeout: seconds for a whole request; 0 means no limit.
    public init(url: String, headers: [OTLPHeader] = [], timeout: Double = 10, logger: Logger,
                warningInterval: Double = 10) throws {
        Self.initializeCurlOnce
        guard let handle = curl_easy_init() else {
            throw ExportConfigurationError("cannot initialise libcurl to export to \(url)")
        }
        self.url = url
        self.handle = handle
        self.logger = logger
        self.partialSuccessWarnings = RateLimiter(interval: warningInterval)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        var list: UnsafeMutablePointer<curl_slist>?
        let fixed = ["Content-Type: application/x-protobuf", "Expect:"]
        for line in fixed + headers.map({ "\($0.name): \($0.value)" }) {
            list = curl_slist_append(list, line)
        }
        headerList = list

        l7_curl_setopt_ptr(handle, CURLOPT_URL, url)
        l7_curl_setopt_long(handle, CURLOPT_POST, 1)
        l7_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList)
        l7_curl_setopt_ptr(handle, CURLOPT_USERAGENT, "OTel-OTLP-Exporter-Swift/\(L7TraceVersion.current) l7trace")
        // No signals: curl runs on the processor's thread, not the main one.
        l7_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        l7_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        l7_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int((timeout > 0 ? min(timeout, 5) : 5) * 1000))
        l7_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        l7_curl_setopt_write_function(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let body = Unmanaged<ResponseBody>.fromOpaque(context).takeUnretainedValue()
            return body.append(UnsafeRawBufferPointer(start: data, count: size * count))
        }
        l7_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(response).toOpaque())
    }

    deinit {
        shutdown()
        errorBuffer.deallocate()
    }

    public func export(_ batches: [ResourceBatch]) -> ExportResult {
        lock.withLock {
            guard !isShutDown else { return .permanentFailure("the exporter is shut down") }
            return encoder.withEncodedRequest(batches) { body in send(body) }
        }
    }

    public func shutdown() {
        lock.withLock {
            guard !isShutDown else { return }
            isShutDown = true
            curl_easy_cleanup(handle)
            curl_slist_free_all(headerList)
            headerList = nil
        }
    }

    // MARK: One request

    /// Posts `body` (borrowed: curl reads it in place) and classifies the outcome.
    private func send(_ body: UnsafeRawBufferPointer) -> ExportResult {
        response.reset()
        errorBuffer[0] = 0
        l7_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        l7_curl_setopt_ptr(handle, CURLOPT_POSTFIELDS, body.baseAddress)
        let code = curl_easy_perform(handle)
        // curl must not keep a pointer to a buffer that is reused after this call.
        l7_curl_setopt_ptr(handle, CURLOPT_POSTFIELDS, nil)
        guard code == CURLE_OK else { return transportFailure(code) }

        var status = 0
        l7_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        switch status {
        case 200..<300:
            logPartialSuccess()
            return .success
        case 429, 502, 503, 504:
            return .retryableFailure("cannot export to \(url): \(httpStatusText(status))")
        default:
            return .permanentFailure("cannot export to \(url): \(httpStatusText(status))")
        }
    }

    private func transportFailure(_ code: CURLcode) -> ExportResult {
        var osError = 0
        l7_curl_getinfo_long(handle, CURLINFO_OS_ERRNO, &osError)
        let reason: String
        if code == CURLE_COULDNT_CONNECT, osError == Int(ECONNREFUSED) {
            reason = "connection refused"
        } else if code == CURLE_OPERATION_TIMEDOUT {
            reason = "no answer within the timeout"
        } else if errorBuffer[0] != 0 {
            reason = String(cString: errorBuffer)
        } else {
            reason = String(cString: curl_easy_strerror(code))
        }
        let message = "cannot export to \(url): \(reason)"
        switch code {
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_NOT_BUILT_IN:
            return .permanentFailure(message)
        default:
            // Network trouble (refused, reset, DNS, timeout) may clear up by the next interval.
            return .retryableFailure(message)
        }
    }

    /// `HTTP 400` plus what the collector said, when it said something readable.
    private func httpStatusText(_ status: Int) -> String {
        var contentType: UnsafeMutablePointer<CChar>?
        l7_curl_getinfo_string(handle, CURLINFO_CONTENT_TYPE, &contentType)
        let type = contentType.map { String(cString: $0) } ?? ""
        let message = response.withBytes { CollectorMessage.text(body: $0, contentType: type) }
        return message.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(message)"
    }

    private func logPartialSuccess() {
        var partial = cotlp_partial_success()
        let found = response.withBytes { bytes in
            cotlp_parse_export_response(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &partial)
        }
        guard found == 1, partial.rejected_spans > 0 || partial.error_message.0 != 0 else { return }
        let message = withUnsafeBytes(of: &partial.error_message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        guard partialSuccessWarnings.allow() else { return }
        if partial.rejected_spans > 0 {
            logger.warning("l7trace: the collector at \(url) rejected \(partial.rejected_spans) spans: \(message)")
        } else {
            logger.warning("l7trace: the collector at \(url) warns: \(message)")
        }
    }

    /// `curl_global_init` is not thread-safe; run it once, before any handle exists.
    private static let initializeCurlOnce: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()
}

/// The bytes curl hands back, collected up to a cap (OTLP's 4 MiB response
/// limit is far above anything a collector sends us; we keep 64 KiB).
final class ResponseBody {
    private var bytes: [UInt8] = []
    private let limit = 64 * 1024

    func reset() { bytes.removeAll(keepingCapacity: true) }

    /// Returns the count curl expects, so a long body is read (and dropped) to the end.
    func append(_ chunk: UnsafeRawBufferPointer) -> Int {
        let room = max(0, limit - bytes.count)
        bytes.append(contentsOf: chunk.prefix(room))
        return chunk.count
    }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        bytes.withUnsafeBytes(body)
    }
}
