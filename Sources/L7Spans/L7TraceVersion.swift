/// The version l7trace reports as `telemetry.sdk.version`.
public enum L7TraceVersion {
    public static let current = "0.1.0"
}
