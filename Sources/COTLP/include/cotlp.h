/* The OTLP protobuf-c messages l7trace encodes, under short names for Swift.
 *
 * The generated headers live in ../generated (made by `make generate` from
 * proto/); the Makefile rewrites their sibling includes to relative paths,
 * so this header works with no extra -I flag in the targets that import it. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "../generated/opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue OTLPAnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue OTLPArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue OTLPKeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope OTLPScope;
typedef Opentelemetry__Proto__Resource__V1__Resource OTLPResource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans OTLPResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans OTLPScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span OTLPSpan;
typedef Opentelemetry__Proto__Trace__V1__Status OTLPStatus;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest OTLPExportRequest;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse OTLPExportResponse;

/* protobuf-c's *__init functions stamp the descriptor and defaults into
 * memory the caller owns (Swift's arena); these wrappers keep names short. */
static inline void cotlp_any_value_init(OTLPAnyValue *m) { opentelemetry__proto__common__v1__any_value__init(m); }
static inline void cotlp_array_value_init(OTLPArrayValue *m) { opentelemetry__proto__common__v1__array_value__init(m); }
static inline void cotlp_key_value_init(OTLPKeyValue *m) { opentelemetry__proto__common__v1__key_value__init(m); }
static inline void cotlp_scope_init(OTLPScope *m) { opentelemetry__proto__common__v1__instrumentation_scope__init(m); }
static inline void cotlp_resource_init(OTLPResource *m) { opentelemetry__proto__resource__v1__resource__init(m); }
static inline void cotlp_resource_spans_init(OTLPResourceSpans *m) { opentelemetry__proto__trace__v1__resource_spans__init(m); }
static inline void cotlp_scope_spans_init(OTLPScopeSpans *m) { opentelemetry__proto__trace__v1__scope_spans__init(m); }
static inline void cotlp_span_init(OTLPSpan *m) { opentelemetry__proto__trace__v1__span__init(m); }
static inline void cotlp_status_init(OTLPStatus *m) { opentelemetry__proto__trace__v1__status__init(m); }
static inline void cotlp_export_request_init(OTLPExportRequest *m) {
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(m);
}

static inline size_t cotlp_export_request_packed_size(const OTLPExportRequest *m) {
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(m);
}
static inline size_t cotlp_export_request_pack(const OTLPExportRequest *m, uint8_t *out) {
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(m, out);
}

/* What a collector's ExportTraceServiceResponse said about partial success. */
typedef struct {
    int64_t rejected_spans;
    /* NUL-terminated; truncated to fit. */
    char error_message[512];
} cotlp_partial_success;

/* Decodes a response body. Returns 1 when it carries partial_success (filled
 * into *out), 0 when it does not, -1 when the bytes are not a valid response. */
int cotlp_parse_export_response(const uint8_t *data, size_t length, cotlp_partial_success *out);

/* What a google.rpc.Status (a gRPC grpc-status-details-bin trailer, an
 * OTLP/HTTP error body) says: code, message, and the delay of a
 * google.rpc.RetryInfo detail in nanoseconds (-1 when there is none). */
typedef struct {
    int32_t code;
    /* NUL-terminated; truncated to fit. */
    char message[512];
    int64_t retry_delay_nanos;
} cotlp_rpc_status;

/* Returns 0 when the bytes are a Status (filled into *out), -1 when not. */
int cotlp_parse_rpc_status(const uint8_t *data, size_t length, cotlp_rpc_status *out);

/* A reusable gzip compressor (zlib, gzip framing): request bodies are
 * compressed here because libcurl only decompresses responses. */
typedef struct cotlp_gzip cotlp_gzip;

/* level: 0-9, or -1 for zlib's default. NULL when zlib cannot start. */
cotlp_gzip *cotlp_gzip_new(int level);
void cotlp_gzip_free(cotlp_gzip *gzip);
/* The most bytes `length` input bytes can take once compressed. */
size_t cotlp_gzip_bound(cotlp_gzip *gzip, size_t length);
/* Compresses all of input as one gzip member; returns the bytes written,
 * 0 when output is too small. */
size_t cotlp_gzip_compress(cotlp_gzip *gzip, const uint8_t *input, size_t length, uint8_t *output, size_t capacity);
