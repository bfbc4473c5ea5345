/* protobuf-c code for the OTLP messages, compiled into this target.
 *
 * The generated sources sit in the excluded generated/ folder (made by
 * `make generate`) and are included here so SwiftPM compiles them once. */
#include <string.h>

#include "generated/opentelemetry/proto/common/v1/common.pb-c.c"
#include "generated/opentelemetry/proto/resource/v1/resource.pb-c.c"
#include "generated/opentelemetry/proto/trace/v1/trace.pb-c.c"
#include "generated/opentelemetry/proto/collector/trace/v1/trace_service.pb-c.c"

#include "cotlp.h"

int cotlp_parse_export_response(const uint8_t *data, size_t length, cotlp_partial_success *out) {
    OTLPExportResponse *response =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(NULL, length, data);
    if (response == NULL) return -1;
    int found = 0;
    if (response->partial_success != NULL) {
        found = 1;
        out->rejected_spans = response->partial_success->rejected_spans;
        const char *message = response->partial_success->error_message ? response->partial_success->error_message : "";
        strncpy(out->error_message, message, sizeof out->error_message - 1);
        out->error_message[sizeof out->error_message - 1] = '\0';
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(response, NULL);
    return found;
}
