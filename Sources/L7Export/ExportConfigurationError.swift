/// A bad export setting; its description is one line saying what is wrong
/// and what to do.
public struct ExportConfigurationError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "l7trace: " + message }
}
