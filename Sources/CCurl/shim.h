#include <curl/curl.h>

/* curl_easy_setopt is variadic, which Swift cannot call: typed wrappers. */
static inline CURLcode l7_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode l7_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode l7_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode l7_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode l7_curl_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }

/* A function pointer is not a data pointer: its own typed wrapper. */
typedef size_t (*l7_curl_write_callback)(char *data, size_t size, size_t count, void *context);
static inline CURLcode l7_curl_setopt_write_function(CURL *h, l7_curl_write_callback f) {
    return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f);
}

/* Response header lines (and HTTP/2 trailers, which is where gRPC puts
 * grpc-status) arrive one per call, with the same signature. */
static inline CURLcode l7_curl_setopt_header_function(CURL *h, l7_curl_write_callback f) {
    return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f);
}
