import L7Basics

/// The gRPC status codes an OTLP/gRPC export can end with, and which of
/// them the OTLP specification lets an exporter retry.
struct GRPCStatusCode: Equatable, Sendable {
    var rawValue: Int

    static let ok = GRPCStatusCode(rawValue: 0)

    var name: String { GRPCStatus.name(rawValue) ?? "code \(rawValue)" }

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
    static func fromHTTPStatus(_ status: Int) -> GRPCStatusCode { GRPCStatusCode(rawValue: GRPCStatus.code(httpStatus: status)) }
}
