/*
 * The narrow C API around the generated BPF skeleton. Swift sees only this
 * header (and the record layouts in l7trace_abi.h), never libbpf itself.
 *
 * Lifecycle: l7_probes_open (open + load, maps filled from the config) →
 * l7_probes_attach → l7_probes_poll in a loop → l7_probes_destroy.
 * All functions return 0 or a negative errno unless said otherwise.
 */
#ifndef L7PROBES_H
#define L7PROBES_H

#include <stddef.h>
#include <stdint.h>
#include "l7trace_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct l7_probes;

struct l7_probes_config {
    /* The tracer's own tgid: never traced, its connects feed the self-traffic check. */
    uint32_t self_tgid;
    /* enum l7_process_mode */
    uint32_t process_mode;
    /* Bytes captured per call, clamped to 1...L7_MAX_CAPTURE_BYTES. */
    uint32_t capture_bytes;
    /* Ring buffer size, rounded up to a power of two of at least one page. */
    uint32_t ring_bytes;
    /* Processes traced with a pinned TRACE verdict (--pid). */
    const uint32_t *pids;
    uint32_t pid_count;
    /* When port_count > 0, only connections with a local or remote port in
     * this set are tracked (--port). */
    const uint16_t *ports;
    uint32_t port_count;
    /* Pass libbpf's messages (and the verifier log) to stderr. */
    int verbose;
    /* enum l7_kernel_feature bits to treat as missing even where the kernel
     * has them, so that the fallbacks can be tested on any kernel. */
    uint32_t force_fallbacks;
};

/* Kernel features used where the kernel has them, each with a fallback
 * where it does not (bpf/compat.h says which). */
enum l7_kernel_feature {
    L7_FEATURE_TASK_STORAGE = 1, /* task storage maps: Linux 5.11 */
    L7_FEATURE_TASK_BTF = 2,     /* bpf_get_current_task_btf: 5.11 */
    L7_FEATURE_TASK_PT_REGS = 4, /* bpf_task_pt_regs: 5.15 */
};
#define L7_ALL_FEATURES 7

/* Filled when open or attach fails. */
struct l7_probes_error {
    /* Positive errno. */
    int err;
    /* "kernel", "open", "load", "maps" or "attach". */
    char stage[16];
    /* The program the kernel refused, when known. */
    char program[64];
    /* The map the kernel refused, when known. */
    char map[64];
    /* The last libbpf message, for context. */
    char message[256];
};

int l7_probes_open(const struct l7_probes_config *config, struct l7_probes **out,
                   struct l7_probes_error *error);

int l7_probes_attach(struct l7_probes *probes, struct l7_probes_error *error);

/* The enum l7_kernel_feature bits whose fallbacks are in use. */
uint32_t l7_probes_fallbacks(const struct l7_probes *probes);

/* Bits of the functions l7_probes_attach_ssl attached. */
enum l7_ssl_function {
    L7_SSL_READ = 1,
    L7_SSL_WRITE = 2,
    L7_SSL_READ_EX = 4,
    L7_SSL_WRITE_EX = 8,
    /* Names the socket early (no plaintext): see ssl.h. */
    L7_SSL_DO_HANDSHAKE = 16,
};

/* Attaches the OpenSSL probes (entry and return of SSL_read, SSL_write,
 * SSL_read_ex, SSL_write_ex, SSL_do_handshake) to one ELF file: a libssl, or an executable
 * that defines these functions itself. Uprobes live on the file, so every
 * process that maps it is covered; call it once per file. A function the
 * file does not define is skipped. Returns the L7_SSL_* bits attached, or a
 * negative errno when none could be. */
int l7_probes_attach_ssl(struct l7_probes *probes, const char *path);

/* Called for every record; `record` points into the ring buffer and is valid
 * only during the call. */
typedef void (*l7_record_fn)(void *context, const void *record, size_t size);

/* Waits up to timeout_ms for the kernel's wake-up (it only wakes us when the
 * ring is filling), then drains the waiting records, at most 65536 per call
 * (the next call then does not wait). Returns the number of records handed
 * to `fn`, or a negative errno. */
int l7_probes_poll(struct l7_probes *probes, int timeout_ms, l7_record_fn fn, void *context);

/* verdict: enum l7_verdict (optionally | L7_VERDICT_PINNED); 0 removes it. */
int l7_probes_set_process_verdict(struct l7_probes *probes, uint32_t tgid, uint8_t verdict);

/* Stops the kernel from copying bytes of this connection. -ENOENT when the
 * connection is gone or the fd now names another one. */
int l7_probes_ignore_connection(struct l7_probes *probes, uint32_t tgid, int32_t fd, uint64_t conn_id);

/* Tells the kernel that this connection speaks HTTP/2, so that its large
 * calls are copied whole, in chunks. -ENOENT as for ignore_connection. */
int l7_probes_mark_http2(struct l7_probes *probes, uint32_t tgid, int32_t fd, uint64_t conn_id);

/* Sums the per-CPU counters. */
int l7_probes_read_counters(struct l7_probes *probes, struct l7_counters *out);

/* Detaches and frees; NULL is fine. */
void l7_probes_destroy(struct l7_probes *probes);

#ifdef __cplusplus
}
#endif

#endif /* L7PROBES_H */
