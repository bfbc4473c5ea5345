import CCurl
import Glibc
import L7Basics

/// One libcurl easy handle, set up once and reused for every request so the
/// connection to the collector (and its TLS session) stays open.
///
/// libcurl does all the protocol work we must not write ourselves: HTTP/1.1,
/// HTTP/2 (h2c with prior knowledge, or ALPN over TLS), TLS with a CA file
/// or a client certificate, and HTTP/2 trailers, which it hands to the
/// header callback like any header line. Not thread-safe: one caller at a time.
final class CurlConnection {
    struct Settings {
        var url: String
        /// HTTP/2 only (gRPC); otherwise curl's default (HTTP/1.1, or h2 via ALPN).
        var requireHTTP2 = false
        /// Request header lines, `Name: value`.
        var headerLines: [String] = []
        var userAgent: String
        /// Seconds for a whole request; 0 means no limit.
        var timeout: Double
        var tls = TLSFiles()
    }

    let url: String
    private let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let response = ResponseCollector()
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init(_ settings: Settings) throws {
        Self.initializeCurlOnce
        guard let handle = curl_easy_init() else {
            errorBuffer.deallocate()
            throw ExportConfigurationError("cannot initialise libcurl to export to \(settings.url)")
        }
        self.url = settings.url
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        for line in settings.headerLines { headerList = curl_slist_append(headerList, line) }
        l7_curl_setopt_ptr(handle, CURLOPT_URL, settings.url)
        l7_curl_setopt_long(handle, CURLOPT_POST, 1)
        l7_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList)
        l7_curl_setopt_ptr(handle, CURLOPT_USERAGENT, settings.userAgent)
        if settings.requireHTTP2 {
            if settings.url.lowercased().hasPrefix("https://") {
                // h2 negotiated with ALPN.
                l7_curl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
            } else {
                // h2c with prior knowledge, no Upgrade round trip. libcurl 7.88.1 (Debian 12)
                // breaks a reused prior-knowledge connection ("Error in the HTTP2 framing
                // layer", curl issue 10634, fixed in 8.0): one connection per export there.
                l7_curl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE))
                if Self.versionNumber < 0x08_00_00 { l7_curl_setopt_long(handle, CURLOPT_FORBID_REUSE, 1) }
            }
        }
        // An empty list means every encoding curl can decode (a gzip-encoded error body, say).
        l7_curl_setopt_ptr(handle, CURLOPT_ACCEPT_ENCODING, "")
        if let ca = settings.tls.certificateAuthority { l7_curl_setopt_ptr(handle, CURLOPT_CAINFO, ca) }
        if let certificate = settings.tls.clientCertificate { l7_curl_setopt_ptr(handle, CURLOPT_SSLCERT, certificate) }
        if let key = settings.tls.clientKey { l7_curl_setopt_ptr(handle, CURLOPT_SSLKEY, key) }
        // No signals: curl runs on the processor's thread, not the main one.
        l7_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        l7_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(settings.timeout * 1000))
        let connectTimeout = settings.timeout > 0 ? min(settings.timeout, 5) : 5
        l7_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        l7_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer)

        let context = Unmanaged.passUnretained(response).toOpaque()
        l7_curl_setopt_write_function(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let response = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
            return response.appendBody(UnsafeRawBufferPointer(start: data, count: size * count))
        }
        l7_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, context)
        l7_curl_setopt_header_function(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let response = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
            response.appendHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        l7_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, context)
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Posts `body` (borrowed: curl reads it in place, during this call only).
    func post(_ body: UnsafeRawBufferPointer) -> CurlOutcome {
        response.reset()
        errorBuffer[0] = 0
        l7_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        l7_curl_setopt_ptr(handle, CURLOPT_POSTFIELDS, body.baseAddress)
        let code = curl_easy_perform(handle)
        // curl must not keep a pointer to a buffer that is reused after this call.
        l7_curl_setopt_ptr(handle, CURLOPT_POSTFIELDS, nil)
        guard code == CURLE_OK else { return .transportFailure(transportFailure(code)) }

        var status = 0
        l7_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .response(HTTPResponse(status: status, headers: response.headers, body: response.body))
    }

    private func transportFailure(_ code: CURLcode) -> TransportFailure {
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
        switch code {
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_NOT_BUILT_IN:
            return TransportFailure(reason: reason, isRetryable: false)
        case CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_PEER_FAILED_VERIFICATION:
            // A certificate that does not verify will not verify next time either.
            return TransportFailure(reason: reason, isRetryable: false)
        default:
            // Network trouble (refused, reset, DNS, timeout) may clear up.
            return TransportFailure(reason: reason, isRetryable: true)
        }
    }

    private static let versionNumber: UInt32 = {
        curl_version_info(CURLVERSION_FOURTH)?.pointee.version_num ?? 0
    }()

    /// `curl_global_init` is not thread-safe; run it once, before any handle exists.
    private static let initializeCurlOnce: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()
}

/// PEM files for TLS towards the collector; nil means the system default.
public struct TLSFiles: Equatable, Sendable {
    /// CA bundle that verifies the collector (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    public var certificateAuthority: String?
    /// Our certificate and key, for collectors that want mutual TLS.
    public var clientCertificate: String?
    public var clientKey: String?

    public init(certificateAuthority: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }
}

/// What one POST came to.
enum CurlOutcome {
    case response(HTTPResponse)
    case transportFailure(TransportFailure)
}

/// A request that got no HTTP answer at all.
struct TransportFailure: Equatable {
    var reason: String
    var isRetryable: Bool
}

/// An HTTP answer: status, header lines (trailers included, names in lower
/// case, in arrival order) and the body, capped.
struct HTTPResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The last value of a header (a trailer beats a header of the same name).
    func header(_ name: String) -> String? {
        headers.last(where: { $0.name == name })?.value
    }
}

/// Collects what curl's callbacks hand over during one request.
final class ResponseCollector {
    /// OTLP's response limit is 4 MiB; nothing a collector says to us needs more than this.
    private let bodyLimit = 64 * 1024
    private(set) var body: [UInt8] = []
    private(set) var headers: [(name: String, value: String)] = []

    func reset() {
        body.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
    }

    /// Returns the count curl expects, so a long body is read (and dropped) to the end.
    func appendBody(_ chunk: UnsafeRawBufferPointer) -> Int {
        let room = max(0, bodyLimit - body.count)
        body.append(contentsOf: chunk.prefix(room))
        return chunk.count
    }

    func appendHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        // A status line starts a new response (after a 100 Continue, say): forget the last one's headers.
        if bytes.starts(with: "HTTP/".utf8) {
            headers.removeAll(keepingCapacity: true)
            return
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return }
        // Trim bytes, not Characters: "\r\n" is one Character and no whitespace test matches it.
        var start = colon + 1, end = bytes.endIndex
        while start < end, ASCIIWhitespace.isWhitespace(bytes[start]) { start += 1 }
        while end > start, ASCIIWhitespace.isWhitespace(bytes[end - 1]) { end -= 1 }
        let name = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        headers.append((name, String(decoding: bytes[start..<end], as: UTF8.self)))
    }
}
