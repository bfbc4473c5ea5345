/* libnghttp2 for the tests: its HPACK encoder (nghttp2_hd_deflate_*) makes
 * the reference header blocks that our own decoder is checked against. */
#include <nghttp2/nghttp2.h>
