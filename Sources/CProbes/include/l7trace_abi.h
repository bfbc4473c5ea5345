/*
 * The contract between bpf/l7trace.bpf.c and user space: record layouts in
 * the ring buffer, map keys and values, and the constants both sides agree on.
 *
 * Every record starts with `struct l7_event_header`; `kind` says which struct
 * it is. Records are written by the kernel in native byte order and are at
 * most 8-byte aligned, so user space may read them in place.
 */
#ifndef L7TRACE_ABI_H
#define L7TRACE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Hard upper bound of bytes captured per call; the per-load limit is <= this. */
#define L7_MAX_CAPTURE_BYTES 16384
#define L7_DEFAULT_CAPTURE_BYTES 4096
/* How many iovecs of a readv/writev/sendmsg/recvmsg are copied, at most. */
#define L7_MAX_IOVECS 64
/* HTTP/2 connections multiplex streams in one call: the HEADERS of a small
 * reply may follow a large DATA run in the same write. Their calls are
 * copied whole, in chunks of L7_MAX_CAPTURE_BYTES, up to this many bytes
 * (and over up to L7_MAX_CHUNKED_IOVECS iovecs; UIO_MAXIOV is 1024). */
#define L7_MAX_CHUNKED_CALL_BYTES (4 << 20)
#define L7_MAX_CHUNKED_IOVECS 1024
/* Threads of traced processes whose state fits, on kernels without task
 * storage (before 5.11), where it lives in a hash map by thread id. */
#define L7_MAX_THREAD_STATES 65536

enum l7_event_kind {
    L7_EVENT_OPEN = 1,
    L7_EVENT_DATA = 2,
    L7_EVENT_CLOSE = 3,
    L7_EVENT_EXEC = 4,
    L7_EVENT_EXIT = 5,
    L7_EVENT_FORK = 6,
};

/* Values of `role`; the same numbers as L7Events.ConnectionRole. */
enum l7_role {
    L7_ROLE_UNKNOWN = 0,
    L7_ROLE_CLIENT = 1,
    L7_ROLE_SERVER = 2,
};

/* Values of `direction`; the same numbers as L7Events.Direction. */
enum l7_direction {
    L7_DIR_EGRESS = 0,
    L7_DIR_INGRESS = 1,
};

/* Values of `source`; the same numbers as L7Events.DataSource. */
enum l7_source {
    L7_SOURCE_SYSCALL = 0,
    L7_SOURCE_SSL = 1,
};

/* How processes without a verdict are treated (global, set at load). */
enum l7_process_mode {
    /* Trace every process unless its verdict is IGNORE. */
    L7_MODE_ALL = 0,
    /* Trace only processes whose verdict is TRACE (--pid). */
    L7_MODE_LISTED = 1,
    /* Like ALL, but user space is expected to write a verdict for each new
     * process (--service); exec drops the verdict so it is decided again. */
    L7_MODE_DECIDE = 2,
};

/* Size of the kernel's bitmap of tgids that may have a `proc_verdict` entry
 * (`verdict_marks` in .bss, one byte per slot so that marking is a plain
 * store on every kernel): whoever adds an entry for tgid T first sets byte
 * T % L7_VERDICT_SLOTS to 1. */
#define L7_VERDICT_SLOTS 65536

/* Values in the `proc_verdict` map. */
enum l7_verdict {
    L7_VERDICT_TRACE = 1,
    L7_VERDICT_IGNORE = 2,
    /* Flag: the verdict survives exec (pids the user named). Not inherited. */
    L7_VERDICT_PINNED = 0x10,
};

struct l7_event_header {
    __u8 kind;
    __u8 pad[3];
    __u32 tgid;
    __u32 tid;
    __u32 pad2;
    /* CLOCK_MONOTONIC nanoseconds (exit of the call for data events). */
    __u64 timestamp_ns;
};

struct l7_address {
    /* 4 (AF_INET) or 6 (AF_INET6); 0 when unknown. */
    __u8 family;
    __u8 pad;
    /* Host byte order. */
    __u16 port;
    /* Network order: 4 bytes used for IPv4, 16 for IPv6. */
    __u8 addr[16];
};

struct l7_open_event {
    struct l7_event_header header;
    __u64 conn_id;
    __s32 fd;
    __u8 role;
    __u8 pad[3];
    struct l7_address local;
    struct l7_address remote;
};

/* Bits of `l7_data_event.chunk_flags`. */
enum l7_chunk_flags {
    /* More chunks of the same call follow (zero: the call's last chunk). */
    L7_CHUNK_MORE = 1,
};

/* Followed by `captured` bytes of what the call moved, starting at `offset`
 * within the call. Most calls have one chunk at offset 0; a large call of an
 * HTTP/2 connection has several, in order; any other call longer than the
 * capture has two: its head, and its last bytes (up to 256) at their offset. */
struct l7_data_event {
    struct l7_event_header header;
    __u64 conn_id;
    /* The call's entry; a syscall read is seen at its exit only and carries
     * the exit time here too (SSL reads carry their real entry). */
    __u64 enter_ns;
    /* What the call returned (> 0). */
    __u64 returned;
    __s32 fd;
    __u32 captured;
    __u8 direction;
    __u8 source;
    /* enum l7_chunk_flags */
    __u8 chunk_flags;
    __u8 pad;
    __u32 offset;
};

/* The fd stopped naming the connection. `shared`: other fds (of this
 * process or of others, e.g. inherited across fork) still refer to the
 * socket, so the connection itself goes on. */
struct l7_close_event {
    struct l7_event_header header;
    __u64 conn_id;
    __s32 fd;
    __u8 shared;
    __u8 pad[3];
};

/* kind EXEC: header.tgid is the process after exec. */
struct l7_exec_event {
    struct l7_event_header header;
    __u32 ppid;
    __u32 pad;
};

/* kind FORK: header.tgid is the new process (its first thread in
 * header.tid), forked by a traced one; it runs its parent's program until it
 * execs (an EXEC event then). */
struct l7_fork_event {
    struct l7_event_header header;
    __u32 parent_tgid;
    __u32 pad;
};

/* kind EXIT: header.tgid is the process that exited. */
struct l7_exit_event {
    struct l7_event_header header;
};

/* Key of the `conns` map. Each fd naming a socket has its entry; all the
 * entries of one socket carry the same conn_id (the socket's). */
struct l7_conn_key {
    __u32 tgid;
    __s32 fd;
};

/* Values of `l7_conn.state`. */
enum l7_conn_state {
    /* Bytes are sent to user space. */
    L7_CONN_TRACED = 0,
    /* Not selected by --port: nothing about it is sent. */
    L7_CONN_UNSELECTED = 1,
    /* User space (or the self-traffic check) said stop; open was sent. */
    L7_CONN_IGNORED = 2,
};

/* Bits of `l7_conn.flags`. */
enum l7_conn_flags {
    /* OpenSSL plaintext was sent for it: its syscall bytes are ciphertext
     * and never leave the kernel again. */
    L7_CONN_FLAG_TLS = 1,
    /* Ignored by the self-traffic check (the tracer's own export); no SSL
     * data revives it. */
    L7_CONN_FLAG_SELF = 2,
    /* Speaks HTTP/2 (the kernel saw the client preface, or user space said
     * so): large calls are copied whole, in chunks. */
    L7_CONN_FLAG_HTTP2 = 4,
};

/* Value of the `conns` map. */
struct l7_conn {
    __u64 conn_id;
    __u8 state;
    __u8 role;
    /* Whether the peer still has to be checked against the tracer's own
     * outgoing ports (done at the first data call). */
    __u8 self_check_pending;
    /* enum l7_conn_flags */
    __u8 flags;
    /* Host order; kept for the self-traffic check. */
    __u16 remote_port;
    __u16 local_port;
};

/* The single value of the per-CPU `counters` map; user space sums the CPUs. */
struct l7_counters {
    /* Records written to the ring buffer. */
    __u64 events;
    /* Records that did not fit in the ring buffer (and the bytes calls moved). */
    __u64 lost_events;
    __u64 lost_bytes;
    /* Bytes calls moved beyond the captured prefix. */
    __u64 uncaptured_bytes;
    /* Data calls on known connections dropped by a verdict, the port
     * selection or the self-traffic check. */
    __u64 filtered_events;
    /* Times the kernel forced a wake-up of the reader (ring filling up). */
    __u64 wakeups;
    /* OpenSSL reads/writes that moved bytes and were sent to user space. */
    __u64 ssl_events;
    /* OpenSSL reads/writes that moved bytes on no socket we could name:
     * no socket syscall under the call and no earlier fd for that SSL*. */
    __u64 ssl_unattributed;
    /* Syscalls on TLS connections whose bytes (ciphertext) were not copied. */
    __u64 ciphertext_calls;
    /* Calls of traced threads not followed because the thread-state hash
     * (kernels without task storage) was full. */
    __u64 thread_states_full;
};

#endif /* L7TRACE_ABI_H */
