/* protobuf-c code for the OTLP messages, compiled into this target.
 *
 * The generated sources sit in the excluded generated/ folder (made by
 * `make generate`) and are included here so SwiftPM compiles them once. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "generated/opentelemetry/proto/common/v1/common.pb-c.c"
#include "generated/opentelemetry/proto/resource/v1/resource.pb-c.c"
#include "generated/opentelemetry/proto/trace/v1/trace.pb-c.c"
#include "generated/opentelemetry/proto/collector/trace/v1/trace_service.pb-c.c"
#include "generated/google/protobuf/any.pb-c.c"
#include "generated/google/protobuf/duration.pb-c.c"
#include "generated/google/rpc/status.pb-c.c"
#include "generated/google/rpc/error_details.pb-c.c"

#include "cotlp.h"

static void copy_message(char *out, size_t size, const char *message) {
    strncpy(out, message ? message : "", size - 1);
    out[size - 1] = '\0';
}

int cotlp_parse_export_response(const uint8_t *data, size_t length, cotlp_partial_success *out) {
    OTLPExportResponse *response =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(NULL, length, data);
    if (response == NULL) return -1;
    int found = 0;
    if (response->partial_success != NULL) {
        found = 1;
        out->rejected_spans = response->partial_success->rejected_spans;
        copy_message(out->error_message, sizeof out->error_message, response->partial_success->error_message);
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(response, NULL);
    return found;
}

static const char retry_info_type[] = "type.googleapis.com/google.rpc.RetryInfo";

int cotlp_parse_rpc_status(const uint8_t *data, size_t length, cotlp_rpc_status *out) {
    Google__Rpc__Status *status = google__rpc__status__unpack(NULL, length, data);
    if (status == NULL) return -1;
    out->code = status->code;
    copy_message(out->message, sizeof out->message, status->message);
    out->retry_delay_nanos = -1;
    for (size_t i = 0; i < status->n_details; i++) {
        const Google__Protobuf__Any *detail = status->details[i];
        if (detail->type_url == NULL || strcmp(detail->type_url, retry_info_type) != 0) continue;
        Google__Rpc__RetryInfo *info = google__rpc__retry_info__unpack(NULL, detail->value.len, detail->value.data);
        if (info == NULL) continue;
        if (info->retry_delay != NULL && info->retry_delay->seconds >= 0 && info->retry_delay->nanos >= 0) {
            /* Clamp so the product cannot overflow; nobody asks for centuries. */
            int64_t seconds = info->retry_delay->seconds > 1000000 ? 1000000 : info->retry_delay->seconds;
            out->retry_delay_nanos = seconds * 1000000000LL + info->retry_delay->nanos;
        }
        google__rpc__retry_info__free_unpacked(info, NULL);
    }
    google__rpc__status__free_unpacked(status, NULL);
    return 0;
}

/* MARK: gzip */

struct cotlp_gzip {
    z_stream stream;
};

cotlp_gzip *cotlp_gzip_new(int level) {
    cotlp_gzip *gzip = calloc(1, sizeof *gzip);
    if (gzip == NULL) return NULL;
    /* 15 window bits + 16: a gzip header and trailer rather than raw zlib. */
    if (deflateInit2(&gzip->stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(gzip);
        return NULL;
    }
    return gzip;
}

void cotlp_gzip_free(cotlp_gzip *gzip) {
    if (gzip == NULL) return;
    deflateEnd(&gzip->stream);
    free(gzip);
}

size_t cotlp_gzip_bound(cotlp_gzip *gzip, size_t length) {
    return deflateBound(&gzip->stream, length);
}

size_t cotlp_gzip_compress(cotlp_gzip *gzip, const uint8_t *input, size_t length, uint8_t *output, size_t capacity) {
    if (deflateReset(&gzip->stream) != Z_OK) return 0;
    gzip->stream.next_in = (Bytef *)input;
    gzip->stream.avail_in = (uInt)length;
    gzip->stream.next_out = output;
    gzip->stream.avail_out = (uInt)capacity;
    if (deflate(&gzip->stream, Z_FINISH) != Z_STREAM_END) return 0;
    return capacity - gzip->stream.avail_out;
}
