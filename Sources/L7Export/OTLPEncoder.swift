import COTLP
import Glibc
import L7Spans

/// Encodes batches of spans as an OTLP `ExportTraceServiceRequest` (the
/// protobuf body of `POST /v1/traces`) through protobuf-c.
///
/// One `ResourceSpans` per process, each with one `ScopeSpans` named after
/// the tracer. The C message tree lives in an arena and the bytes in one
/// reusable buffer, so a steady export loop allocates nothing per span.
/// Not thread-safe: one encoder per export thread.
public final class OTLPEncoder {
    public let scopeName: String
    public let scopeVersion: String

    private let arena = EncodingArena()
    private var output: UnsafeMutableRawPointer?
    private var outputCapacity = 0

    public init(scopeName: String = "l7trace", scopeVersion: String = L7TraceVersion.current) {
        self.scopeName = scopeName
        self.scopeVersion = scopeVersion
    }

    deinit { output?.deallocate() }

    /// The encoded request as a new array (for tests and one-off callers).
    public func encode(_ batches: [ResourceBatch]) -> [UInt8] {
        withEncodedRequest(batches) { Array($0) }
    }

    /// Encodes into the encoder's own buffer and lends the bytes to `body`;
    /// they are valid only inside it.
    public func withEncodedRequest<Result>(
        _ batches: [ResourceBatch], _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        try withEncodedRequest(batches, headroom: 0) { try body(UnsafeRawBufferPointer($0)) }
    }

    /// Like `withEncodedRequest(_:_:)`, with `headroom` bytes before the
    /// message for the caller to fill (gRPC's 5-byte message prefix), so
    /// framing needs no copy.
    func withEncodedRequest<Result>(
        _ batches: [ResourceBatch], headroom: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        defer { arena.reset() }
        let request = makeRequest(batches)
        let size = cotlp_export_request_packed_size(request)
        let buffer = reserveOutput(headroom + size)
        let written = cotlp_export_request_pack(request, (buffer + headroom).assumingMemoryBound(to: UInt8.self))
        return try body(UnsafeMutableRawBufferPointer(start: buffer, count: headroom + written))
    }

    private func reserveOutput(_ size: Int) -> UnsafeMutableRawPointer {
        if let output, size <= outputCapacity { return output }
        output?.deallocate()
        // Grow geometrically so a slowly rising batch size does not reallocate every time.
        outputCapacity = max(size, outputCapacity * 2, 4096)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: outputCapacity, alignment: 16)
        output = fresh
        return fresh
    }

    // MARK: Building the C message tree (all memory from the arena)

    private func makeRequest(_ batches: [ResourceBatch]) -> UnsafeMutablePointer<OTLPExportRequest> {
        let request = arena.allocate(OTLPExportRequest.self)
        cotlp_export_request_init(request)
        let scope = makeScope()
        let list = arena.allocate(UnsafeMutablePointer<OTLPResourceSpans>?.self, count: batches.count)
        for (index, batch) in batches.enumerated() {
            list[index] = makeResourceSpans(batch, scope: scope)
        }
        request.pointee.n_resource_spans = batches.count
        request.pointee.resource_spans = list
        return request
    }

    private func makeScope() -> UnsafeMutablePointer<OTLPScope> {
        let scope = arena.allocate(OTLPScope.self)
        cotlp_scope_init(scope)
        scope.pointee.name = arena.cString(scopeName)
        scope.pointee.version = arena.cString(scopeVersion)
        return scope
    }

    private func makeResourceSpans(_ batch: ResourceBatch, scope: UnsafeMutablePointer<OTLPScope>)
        -> UnsafeMutablePointer<OTLPResourceSpans>
    {
        let resource = arena.allocate(OTLPResource.self)
        cotlp_resource_init(resource)
        (resource.pointee.n_attributes, resource.pointee.attributes) = makeAttributes(batch.resource.attributes)

        let scopeSpans = arena.allocate(OTLPScopeSpans.self)
        cotlp_scope_spans_init(scopeSpans)
        scopeSpans.pointee.scope = scope
        let spans = arena.allocate(UnsafeMutablePointer<OTLPSpan>?.self, count: batch.spans.count)
        for (index, span) in batch.spans.enumerated() {
            spans[index] = makeSpan(span)
        }
        scopeSpans.pointee.n_spans = batch.spans.count
        scopeSpans.pointee.spans = spans

        let resourceSpans = arena.allocate(OTLPResourceSpans.self)
        cotlp_resource_spans_init(resourceSpans)
        resourceSpans.pointee.resource = resource
        let scopeList = arena.allocate(UnsafeMutablePointer<OTLPScopeSpans>?.self)
        scopeList[0] = scopeSpans
        resourceSpans.pointee.n_scope_spans = 1
        resourceSpans.pointee.scope_spans = scopeList
        return resourceSpans
    }

    private func makeSpan(_ record: SpanRecord) -> UnsafeMutablePointer<OTLPSpan> {
        let span = arena.allocate(OTLPSpan.self)
        cotlp_span_init(span)
        span.pointee.trace_id = bytes(record.traceID.high, record.traceID.low)
        span.pointee.span_id = bytes(record.spanID.value)
        if let parent = record.parentSpanID {
            span.pointee.parent_span_id = bytes(parent.value)
        }
        if !record.traceState.isEmpty { span.pointee.trace_state = arena.cString(record.traceState) }
        span.pointee.name = arena.cString(record.name)
        span.pointee.kind = .init(rawValue: numericCast(record.kind.rawValue))
        span.pointee.start_time_unix_nano = record.startUnixNano
        span.pointee.end_time_unix_nano = record.endUnixNano
        (span.pointee.n_attributes, span.pointee.attributes) = makeAttributes(record.attributes)
        span.pointee.flags = record.flags

        let status = arena.allocate(OTLPStatus.self)
        cotlp_status_init(status)
        status.pointee.code = .init(rawValue: numericCast(record.statusCode.rawValue))
        if !record.statusMessage.isEmpty { status.pointee.message = arena.cString(record.statusMessage) }
        span.pointee.status = status
        return span
    }

    /// Ids in big-endian order, as OTLP and `traceparent` write them.
    private func bytes(_ high: UInt64, _ low: UInt64) -> ProtobufCBinaryData {
        let data = arena.allocate(UInt8.self, count: 16)
        UnsafeMutableRawPointer(data).storeBytes(of: high.bigEndian, as: UInt64.self)
        UnsafeMutableRawPointer(data + 8).storeBytes(of: low.bigEndian, as: UInt64.self)
        return ProtobufCBinaryData(len: 16, data: data)
    }

    private func bytes(_ id: UInt64) -> ProtobufCBinaryData {
        let data = arena.allocate(UInt8.self, count: 8)
        UnsafeMutableRawPointer(data).storeBytes(of: id.bigEndian, as: UInt64.self)
        return ProtobufCBinaryData(len: 8, data: data)
    }

    private func makeAttributes(_ attributes: [Attribute])
        -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<OTLPKeyValue>?>?)
    {
        guard !attributes.isEmpty else { return (0, nil) }
        let list = arena.allocate(UnsafeMutablePointer<OTLPKeyValue>?.self, count: attributes.count)
        for (index, attribute) in attributes.enumerated() {
            let pair = arena.allocate(OTLPKeyValue.self)
            cotlp_key_value_init(pair)
            pair.pointee.key = arena.cString(attribute.key)
            pair.pointee.value = makeValue(attribute.value)
            list[index] = pair
        }
        return (attributes.count, list)
    }

    private func makeValue(_ value: AttributeValue) -> UnsafeMutablePointer<OTLPAnyValue> {
        let any = arena.allocate(OTLPAnyValue.self)
        cotlp_any_value_init(any)
        switch value {
        case .string(let string):
            any.pointee.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
            any.pointee.string_value = arena.cString(string)
        case .int(let int):
            any.pointee.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
            any.pointee.int_value = int
        case .double(let double):
            any.pointee.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE
            any.pointee.double_value = double
        case .bool(let bool):
            any.pointee.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE
            any.pointee.bool_value = bool ? 1 : 0
        case .stringArray(let strings):
            let array = arena.allocate(OTLPArrayValue.self)
            cotlp_array_value_init(array)
            let values = arena.allocate(UnsafeMutablePointer<OTLPAnyValue>?.self, count: strings.count)
            for (index, string) in strings.enumerated() {
                values[index] = makeValue(.string(string))
            }
            array.pointee.n_values = strings.count
            array.pointee.values = strings.isEmpty ? nil : values
            any.pointee.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE
            any.pointee.array_value = array
        }
        return any
    }
}
