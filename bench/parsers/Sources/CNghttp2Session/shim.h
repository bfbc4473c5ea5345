/* libnghttp2's session API, the HTTP/2 reference the parser benchmark runs
 * next to ours (the main package only uses its HPACK inflater). */
#include <nghttp2/nghttp2.h>
