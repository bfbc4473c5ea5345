/// The gRPC status codes an OTLP/gRPC export can end with, and which of
/// them the OTLP specification lets an exporter retry.
struct GRPCStatusCode: Equatable, Sendable {
    var rawValue: Int

    static let ok = GRPCStatusCode(rawValue: 0)
    static let resourceExhausted = GRPCStatusCode(rawValue: 8)

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    var name: String { Self.names.indices.contains(rawValue) ? Self.names[rawValue] : "code \(rawValue)" }

    /// CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and
    /// DATA_LOSS; RESOURCE_EXHAUSTED only when the server sent RetryInfo.
    func isRetryable(hasRetryInfo: Bool) -> Bool {
        switch rawValue {
        case 1, 4, 10, 11, 14, 15: return true
        case 8: return hasRetryInfo
        default: return false
        }
    }

    /// The code a response without `grpc-status` stands for (gRPC's HTTP-to-gRPC mapping).
    static func fromHTTPStatus(_ status: Int) -> GRPCStatusCode {
        switch status {
        case 400, 431: return GRPCStatusCode(rawValue: 13)
        case 401: return GRPCStatusCode(rawValue: 16)
        case 403: return GRPCStatusCode(rawValue: 7)
        case 404: return GRPCStatusCode(rawValue: 12)
        case 429, 502, 503, 504: return GRPCStatusCode(rawValue: 14)
        default: return GRPCStatusCode(rawValue: 2)
        }
    }
}
