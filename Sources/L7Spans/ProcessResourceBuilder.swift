/// What discovery knows about one traced process.
public struct ProcessFacts: Sendable {
    public var pid: UInt32
    /// Basename of `/proc/PID/exe`.
    public var executableName: String
    public var executablePath: String?
    public var commandLine: [String]
    /// Raw `/proc/PID/environ`, when readable.
    public var environ: [UInt8]?
    public var containerID: String?
    public var hostName: String
    /// Start time (field 22 of `/proc/PID/stat`), so a reused pid gets a new
    /// `service.instance.id`.
    public var startTime: UInt64

    public init(pid: UInt32, executableName: String, executablePath: String? = nil, commandLine: [String] = [],
                environ: [UInt8]? = nil, hostName: String, containerID: String? = nil, startTime: UInt64 = 0) {
        self.pid = pid; self.executableName = executableName; self.executablePath = executablePath
        self.commandLine = commandLine; self.environ = environ; self.hostName = hostName
        self.containerID = containerID; self.startTime = startTime
    }
}

/// Builds the resource of a traced process: the service identity the
/// process would have reported had it used an OpenTelemetry SDK itself,
/// plus process and host facts.
public struct ProcessResourceBuilder: Sendable {
    /// Mixed into `service.instance.id` instead of the host name when set;
    /// pass the boot id so pids reused after a reboot get new ids.
    public var hostKey: String?
    /// `process.command_args` can carry secrets, so it is opt-in.
    public var includeCommandArgs: Bool
    /// `telemetry.sdk.language` describes the instrumented code, which is
    /// not Swift here (an nginx is C), so it is left out unless given.
    public var sdkLanguage: String?

    public init(hostKey: String? = nil, includeCommandArgs: Bool = false, sdkLanguage: String? = nil) {
        self.hostKey = hostKey
        self.includeCommandArgs = includeCommandArgs
        self.sdkLanguage = sdkLanguage
    }

    /// Convenience for callers holding procfs readings one by one; a nil
    /// executable name (the process is gone) leaves `unknown_service`.
    public func resource(pid: UInt32, executableName: String?, executablePath: String?, environment: [UInt8]?,
                         commandLine: [String]?, hostName: String, containerID: String?,
                         startTime: UInt64 = 0) -> ProcessResource {
        resource(for: ProcessFacts(pid: pid, executableName: executableName ?? "", executablePath: executablePath,
                                   commandLine: commandLine ?? [], environ: environment, hostName: hostName,
                                   containerID: containerID, startTime: startTime))
    }

    /// Attributes in this order: `service.name`, `service.instance.id`, the
    /// other keys of the process's `OTEL_RESOURCE_ATTRIBUTES`, then process,
    /// host, container and telemetry facts (which the variable cannot override).
    public func resource(for process: ProcessFacts) -> ProcessResource {
        let environment = process.environ.map { ProcessEnvironment(environ: $0) }
        let userAttributes = environment?.value("OTEL_RESOURCE_ATTRIBUTES").flatMap(ResourceAttributesVariable.parse) ?? []
        let name = Self.serviceName(environment: environment, userAttributes: userAttributes,
                                    executableName: process.executableName)

        var facts: [Attribute] = [Attribute("process.pid", .int(Int64(process.pid)))]
        if !process.executableName.isEmpty { facts.append(Attribute("process.executable.name", .string(process.executableName))) }
        if let path = process.executablePath, !path.isEmpty { facts.append(Attribute("process.executable.path", .string(path))) }
        if includeCommandArgs && !process.commandLine.isEmpty {
            facts.append(Attribute("process.command_args", .stringArray(process.commandLine)))
        }
        if !process.hostName.isEmpty { facts.append(Attribute("host.name", .string(process.hostName))) }
        if let container = process.containerID, !container.isEmpty { facts.append(Attribute("container.id", .string(container))) }
        facts.append(Attribute("telemetry.sdk.name", .string("l7trace")))
        if let sdkLanguage { facts.append(Attribute("telemetry.sdk.language", .string(sdkLanguage))) }
        facts.append(Attribute("telemetry.sdk.version", .string(L7TraceVersion.current)))

        let givenInstanceID = userAttributes.first { $0.key == "service.instance.id" && !$0.value.isEmpty }?.value
        let instanceID = givenInstanceID ?? generatedInstanceID(hostName: process.hostName, pid: process.pid,
                                                                startTime: process.startTime)
        var attributes = [Attribute("service.name", .string(name)), Attribute("service.instance.id", .string(instanceID))]
        let reserved = Set(facts.map(\.key)).union(["service.name", "service.instance.id"])
        for (key, value) in userAttributes where !reserved.contains(key) {
            attributes.append(Attribute(key, .string(value)))
        }
        attributes.append(contentsOf: facts)
        return ProcessResource(pid: process.pid, attributes: attributes, instanceIDFromEnvironment: givenInstanceID != nil)
    }

    /// The resource of a process that `parent` forked and that has not
    /// exec'd: the same program, environment and host, so the same service,
    /// with its own pid and (unless the environment names one) its own
    /// instance id. What the child's /proc would give, known even after the
    /// child is gone (a forking server's child per connection lives a few ms).
    public func resource(forkedFrom parent: ProcessResource, pid: UInt32, startTime: UInt64 = 0) -> ProcessResource {
        var child = parent
        child.pid = pid
        var hostName = ""
        if case .string(let name)? = parent.attributes.first(where: { $0.key == "host.name" })?.value { hostName = name }
        for index in child.attributes.indices {
            switch child.attributes[index].key {
            case "process.pid":
                child.attributes[index].value = .int(Int64(pid))
            case "service.instance.id" where !parent.instanceIDFromEnvironment:
                child.attributes[index].value = .string(generatedInstanceID(hostName: hostName, pid: pid, startTime: startTime))
            default:
                break
            }
        }
        return child
    }

    private func generatedInstanceID(hostName: String, pid: UInt32, startTime: UInt64) -> String {
        UUIDv5.string(namespace: UUIDv5.serviceInstanceNamespace, name: "\(hostKey ?? hostName)/\(pid)/\(startTime)")!
    }

    /// `OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`,
    /// else the executable name (`unknown_service` if that is empty too).
    /// Values that are not short printable text are skipped.
    static func serviceName(environment: ProcessEnvironment?, userAttributes: [(key: String, value: String)],
                            executableName: String) -> String {
        if let name = ServiceNameGuard.accept(environment?.value("OTEL_SERVICE_NAME")) { return name }
        if let name = ServiceNameGuard.accept(userAttributes.first(where: { $0.key == "service.name" })?.value) { return name }
        return ServiceNameGuard.accept(executableName) ?? "unknown_service"
    }
}
