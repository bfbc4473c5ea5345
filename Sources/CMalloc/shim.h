/* glibc's heap statistics and trim (mallinfo2, malloc_trim), which the
 * Glibc module does not export. */
#include <malloc.h>
