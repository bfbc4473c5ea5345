/* The maps, and the state the programs keep in them. */
#ifndef L7_MAPS_H
#define L7_MAPS_H

/* What a syscall's entry leaves for its exit. */
enum call_op {
    OP_BUFFER = 1,  /* read/write/sendto/recvfrom: buf + len */
    OP_IOVEC = 2,   /* readv/writev/sendmsg/recvmsg: iovec array + count */
    OP_NOCOPY = 3,  /* sendfile: the bytes come from a file; only their count matters */
    OP_CONNECT = 4,
    OP_ACCEPT = 5,
    OP_READ_ARGS = 6,    /* a read's raw arguments, where its exit cannot read them itself (compat.h) */
};

struct call_args {
    __u64 buf;
    __u64 count;
    __u64 enter_ns;
    /* The socket found at entry when the fd was not yet in `conns`. */
    __u64 sk;
    /* The connection as the entry found it in `conns` (when conn_known),
     * so that the exit need not look it up again, and `conn_changes` then. */
    __u64 conn_id;
    __u64 conn_changes;
    __s32 fd;
    /* OP_READ_ARGS: the recvfrom/recvmsg flags. */
    __u32 read_flags;
    __u8 op;
    __u8 direction;
    /* Set by the entry, cleared by the exit that takes it. */
    __u8 pending;
    /* The entry found a traced connection with nothing left to check. */
    __u8 conn_known;
    /* Its enum l7_conn_flags at entry. */
    __u8 conn_flags;
    __u8 pad[3];
};

/* `ssl_call.direction` of a handshake (no bytes; it only names the socket). */
#define L7_SSL_HANDSHAKE 2

/* An OpenSSL read, write or handshake in progress on a thread (see ssl.h). */
struct ssl_call {
    __u64 ssl;
    __u64 buf;
    /* The _ex forms' `size_t *readbytes` / `*written`; 0 for the plain forms. */
    __u64 length_out;
    __u64 enter_ns;
    /* The socket of the first data syscall made under this call; -1 until then. */
    __s32 fd;
    __u8 direction;
    /* Set at entry, cleared by the return that takes it. */
    __u8 pending;
    __u8 pad[2];
};

/* What a thread is in the middle of: the syscall whose entry was seen and
 * the SSL call around it, if any. One value for both, so that a data
 * syscall's entry, which needs both, looks up one. Where it lives depends on
 * the kernel (compat.h). */
struct thread_state {
    struct call_args call;
    struct ssl_call ssl;
    /* Whether the process is traced, as decided when `verdict_changes` was
     * selection_at - 1 (0: not decided yet). */
    __u64 selection_at;
    __u8 selected;
    __u8 pad[7];
};

/* In the thread's own storage (5.11+): no hashing, no LRU lists and no
 * delete on the hot path (an LRU hash here was a third of the probes' cost
 * inside the traced process); the kernel frees it with the thread. Retyped
 * to a one-entry hash, unused, where the kernel has no task storage. */
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct thread_state);
} threads SEC(".maps");

/* The same by thread id, where the kernel has no task storage: entries are
 * made only for threads of traced processes and deleted when the thread
 * exits. Sized to one entry by user space where `threads` is used. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, L7_MAX_THREAD_STATES);
    __type(key, __u32);
    __type(value, struct thread_state);
} thread_states SEC(".maps");

/* The state of a chunked copy: a read position in the call's buffers (one
 * buffer, or an iovec array) and the chunk being filled in the scratch.
 * Kept in the scratch map rather than on the stack: the loop's steps are
 * global functions, verified once, which may take no pointer to the stack
 * on older kernels. */
struct chunk_walk {
    const struct iovec *iovs;
    __u64 iov_count;
    __u64 iov_index;
    /* The part of the current buffer not yet read. */
    __u64 base;
    __u64 left;
    /* Bytes of the call to cover, and covered so far (copied or skipped). */
    __u64 total;
    __u64 done;
    /* Offset in the call of the chunk being filled, and its length. */
    __u64 chunk_offset;
    __u64 fill;
    __u64 returned;
    __u64 copied;
};

/* The state of a copy of the first iovecs of a call into one record. */
struct iovec_copy {
    const struct iovec *iovs;
    __u64 limit;
    __u64 copied;
};

/* The state of a copy of a call's last bytes, [start, end) in the call,
 * from its iovecs: `position` is the call offset of the next iovec. */
struct tail_copy {
    const struct iovec *iovs;
    __u64 position;
    __u64 start;
    __u64 end;
    __u64 filled;
};

/* The data record is built here, then copied into the ring with its real
 * size. Twice the capture limit so the verifier can prove that an iovec copy
 * at any offset below the limit stays inside. An array indexed by CPU because
 * a per-CPU value cannot be this large. */
struct scratch {
    struct chunk_walk walk;
    struct iovec_copy iovec_copy;
    struct tail_copy tail_copy;
    struct l7_data_event event;
    __u8 data[2 * L7_MAX_CAPTURE_BYTES];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1); /* set to the number of possible CPUs by user space */
    __type(key, __u32);
    __type(value, struct scratch);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 << 20); /* resized by user space */
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct l7_conn_key);
    __type(value, struct l7_conn);
} conns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 32768);
    __type(key, __u32); /* tgid */
    __type(value, __u8); /* enum l7_verdict */
} proc_verdict SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u16);
    __type(value, __u8);
} ports SEC(".maps");

/* The tracer's own outgoing connections, by (local port, remote port): a
 * server connection whose (remote, local) ports are one of these is the
 * tracer talking to a traced collector. Both ports: with the local port
 * alone, a client whose ephemeral port the tracer once used was taken for
 * the tracer, and its server spans vanished (4 in 50,000 short connections).
 * Kept after the tracer's close (LRU): a collector that reads late must
 * still see the tracer's bytes as the tracer's. */
struct self_port_pair {
    __u16 local;
    __u16 remote;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct self_port_pair);
    __type(value, __u8);
} self_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct l7_counters);
} counters SEC(".maps");

/* Per CPU: when this CPU last forced a reader wake-up, and the bytes it has
 * written since it last looked at the ring's fill. */
struct cpu_state {
    __u64 last_wakeup_ns;
    __u64 unchecked_bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct cpu_state);
} cpu_states SEC(".maps");

struct ssl_object_key {
    __u64 ssl;
    __u32 tgid;
    __u32 pad;
};

/* The socket each SSL object last used, for reads that OpenSSL serves from
 * its own buffer without a syscall. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ssl_object_key);
    __type(value, __s32);
} ssl_fds SEC(".maps");

static __always_inline struct l7_counters *counters_here(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline struct cpu_state *cpu_state_here(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&cpu_states, &zero);
}

static __always_inline struct scratch *scratch_here(void)
{
    __u32 cpu = bpf_get_smp_processor_id();
    return bpf_map_lookup_elem(&scratch, &cpu);
}

#endif
