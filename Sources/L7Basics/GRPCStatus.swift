/// gRPC status codes: the one table of their names and of the HTTP statuses
/// they stand for, shared by the HTTP/2 stitcher (calls without
/// `grpc-status`), the span mapping and the OTLP/gRPC exporter.
public enum GRPCStatus {
    /// Names by code, 0 (OK) to 16 (UNAUTHENTICATED).
    public static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    /// The code's name; nil for a code gRPC does not define.
    public static func name(_ code: Int) -> String? { names.indices.contains(code) ? names[code] : nil }

    /// The code a response without `grpc-status` stands for (gRPC's http-grpc-status-mapping.md).
    public static func code(httpStatus: Int) -> Int {
        switch httpStatus {
        case 400, 431: return 13
        case 401: return 16
        case 403: return 7
        case 404: return 12
        case 429, 502, 503, 504: return 14
        default: return 2
        }
    }
}
