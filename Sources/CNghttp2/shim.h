#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one HPACK Huffman-coded string (RFC 7541 §5.2) with libnghttp2's
 * inflater. The inflater has no public Huffman entry point, so the string
 * becomes the value of a one-field block, "literal never indexed, new name",
 * which leaves the inflater's dynamic table untouched: one inflater serves
 * every string of a direction. Errors are sticky in nghttp2, so a failed
 * inflater is replaced. Returns the decoded length, or -1 when the string is
 * not valid Huffman code or `out` is too small. */
static inline long l7_hpack_huffman_decode(nghttp2_hd_inflater **inflater, const uint8_t *in, size_t inlen,
                                           uint8_t *out, size_t outcap) {
    uint8_t small[512];
    size_t cap = inlen + 16;
    uint8_t *block = cap <= sizeof small ? small : (uint8_t *)malloc(cap);
    if (block == NULL) return -1;
    size_t n = 0;
    block[n++] = 0x10; /* literal never indexed, literal name */
    block[n++] = 0x01; /* name: 1 byte, not Huffman */
    block[n++] = 'x';
    if (inlen < 127) {
        block[n++] = (uint8_t)(0x80 | inlen);
    } else {
        size_t rest = inlen - 127;
        block[n++] = 0xff;
        while (rest >= 128) { block[n++] = (uint8_t)(0x80 | (rest & 0x7f)); rest >>= 7; }
        block[n++] = (uint8_t)rest;
    }
    memcpy(block + n, in, inlen);
    n += inlen;

    long result = -1;
    const uint8_t *p = block;
    size_t left = n;
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t used = nghttp2_hd_inflate_hd2(*inflater, &nv, &flags, p, left, 1);
        if (used < 0) { result = -1; break; }
        p += used; left -= (size_t)used;
        if (flags & NGHTTP2_HD_INFLATE_EMIT) {
            if (nv.valuelen <= outcap) { memcpy(out, nv.value, nv.valuelen); result = (long)nv.valuelen; }
        }
        if (flags & NGHTTP2_HD_INFLATE_FINAL) { nghttp2_hd_inflate_end_headers(*inflater); break; }
        if (used == 0 && left == 0) { result = -1; break; }
    }
    if (block != small) free(block);
    if (result < 0) {
        nghttp2_hd_inflate_del(*inflater);
        *inflater = NULL;
        if (nghttp2_hd_inflate_new(inflater) != 0) *inflater = NULL;
    }
    return result;
}
