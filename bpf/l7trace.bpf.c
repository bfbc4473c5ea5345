// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * l7trace kernel side: socket syscall tracepoints that copy a bounded prefix
 * of what TCP sockets read and write into a ring buffer, plus process
 * lifecycle events. Layouts are in l7trace_abi.h.
 *
 * Cost matters more than anything here: these programs run on every read and
 * write of the host. Each call is filtered as early and as cheaply as
 * possible: own tgid, process verdict, connection cache, then the fd walk.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "l7trace_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
#define MSG_PEEK 2

/* Set by user space before load (frozen in .rodata, so the verifier sees constants). */
const volatile __u32 self_tgid = 0;
const volatile __u32 process_mode = L7_MODE_ALL;
const volatile __u32 capture_bytes = L7_DEFAULT_CAPTURE_BYTES;
const volatile __u32 port_selection = 0;
/* Wake the reader once this many bytes wait in the ring... */
const volatile __u64 wakeup_bytes = 1 << 20;
/* ...but not more often than this, per CPU. */
const volatile __u64 wakeup_interval_ns = 1000000;
/* Each CPU looks at the ring's fill after writing this many bytes (at most
 * wakeup_bytes / 8 between all CPUs), not at every record. */
const volatile __u64 wakeup_check_bytes = 1 << 16;

/* Connection ids are unique for the life of the loaded program. */
__u64 next_conn_id = 1;

/* Bumped after every change to a `conns` entry that the exit of a syscall in
 * flight must not miss: a verdict or HTTP/2 mark from user space (which
 * writes this through the mmapped .bss), the TLS flag from the SSL probes.
 * An exit uses what its entry read from `conns` only when this has not moved
 * in between; a blocking read may wait for minutes. */
__u64 conn_changes = 0;

/* Bumped after every change to `proc_verdict` (by user space through the
 * mmapped .bss, or by the fork, exec and exit programs): a traced thread
 * keeps its process's selection until this moves. */
__u64 verdict_changes = 0;

/* What a syscall's entry leaves for its exit. */
enum call_op {
    OP_BUFFER = 1,  /* read/write/sendto/recvfrom: buf + len */
    OP_IOVEC = 2,   /* readv/writev/sendmsg/recvmsg: iovec array + count */
    OP_NOCOPY = 3,  /* sendfile: the bytes come from a file; only their count matters */
    OP_CONNECT = 4,
    OP_ACCEPT = 5,
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
    __u8 op;
    __u8 direction;
    /* Set by the entry, cleared by the exit that takes it. */
    __u8 pending;
    /* The entry found a traced connection with nothing left to check. */
    __u8 conn_known;
    /* Its enum l7_conn_flags at entry. */
    __u8 conn_flags;
    __u8 pad[7];
};

/* The state of a chunked copy: a read position in the call's buffers (one
 * buffer, or an iovec array) and the chunk being filled in the scratch.
 * Kept in the scratch map rather than on the stack: values read from a map
 * are unknown to the verifier, so it checks the bpf_loop step once instead
 * of once per distinct offset ("sequence of jumps too complex"). */
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

/* The data record is built here, then copied into the ring with its real
 * size. Twice the capture limit so the verifier can prove that an iovec copy
 * at any offset below the limit stays inside. An array indexed by CPU because
 * a per-CPU value cannot be this large. */
struct scratch {
    struct chunk_walk walk;
    struct l7_data_event event;
    __u8 data[2 * L7_MAX_CAPTURE_BYTES];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 << 20); /* resized by user space */
} events SEC(".maps");

/* An OpenSSL read or write in progress on a thread (see "OpenSSL" below). */
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
 * the SSL call around it, if any. In the thread's own storage: no hashing,
 * no LRU lists and no delete on the hot path (an LRU hash here was a third
 * of the probes' cost inside the traced process); the kernel frees it with
 * the thread. One value for both, so that a data syscall's entry, which
 * needs both, looks up one. */
struct thread_state {
    struct call_args call;
    struct ssl_call ssl;
    /* Whether the process is traced, as decided when `verdict_changes` was
     * selection_at - 1 (0: not decided yet). */
    __u64 selection_at;
    __u8 selected;
    __u8 pad[7];
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct thread_state);
} threads SEC(".maps");

/* What bpf_get_current_pid_tgid() returns, read from the task instead. Every
 * helper call costs tens of ns on these machines (each return goes through
 * the CPU's return-thunk mitigation), so the hot paths make as few as they
 * can: the task pointer gives the ids and the task storage. */
static __always_inline __u64 pid_tgid_of(struct task_struct *task)
{
    return (__u64)task->tgid << 32 | (__u32)task->pid;
}

static __always_inline struct thread_state *this_thread(struct task_struct *task, __u64 flags)
{
    return bpf_task_storage_get(&threads, task, 0, flags);
}

static __always_inline void stash_call(const struct call_args *call)
{
    struct thread_state *t = this_thread(bpf_get_current_task_btf(), BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!t)
        return;
    t->call = *call;
    t->call.pending = 1;
}

/* The arguments the entry of this thread's current syscall stashed, once. */
static __always_inline bool take_call(struct task_struct *task, struct call_args *out)
{
    /* Most threads of the host never had any task storage: no lookup. */
    if (!task->bpf_storage)
        return false;
    struct thread_state *t = this_thread(task, 0);
    if (!t || !t->call.pending)
        return false;
    *out = t->call;
    t->call.pending = 0;
    return true;
}

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

/* Local ports of the tracer's own outgoing connections. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u16);
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
struct wakeup_state {
    __u64 last_ns;
    __u64 unchecked_bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct wakeup_state);
} wakeups SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1); /* set to the number of possible CPUs by user space */
    __type(key, __u32);
    __type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline struct l7_counters *counters_here(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&counters, &zero);
}

/* Writes one record. A wake-up per event costs the traced application more
 * than everything else we do, so the reader (which polls with a timeout
 * anyway) is woken only when `wakeup_bytes` wait unread, and then at most
 * once per `wakeup_interval_ns` per CPU: while a lagging reader drains, the
 * ring stays above the mark and would otherwise ask for a wake-up per event.
 * The fill is looked at every `wakeup_check_bytes` of this CPU's records
 * (a helper call per record cost more than the record's copy). */
static __always_inline void emit_flagged(void *record, __u64 size, __u64 call_bytes, bool urgent)
{
    struct l7_counters *c = counters_here();
    __u64 flags = urgent ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
    __u32 zero = 0;
    struct wakeup_state *w = urgent ? NULL : bpf_map_lookup_elem(&wakeups, &zero);

    if (w && (w->unchecked_bytes += size) >= wakeup_check_bytes) {
        w->unchecked_bytes = 0;
        if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= wakeup_bytes) {
            __u64 now = bpf_ktime_get_ns();
            if (now - w->last_ns >= wakeup_interval_ns) {
                w->last_ns = now;
                flags = BPF_RB_FORCE_WAKEUP;
            }
        }
    }
    if (bpf_ringbuf_output(&events, record, size, flags) == 0) {
        if (c) {
            c->events++;
            if (flags == BPF_RB_FORCE_WAKEUP)
                c->wakeups++;
        }
    } else if (c) {
        c->lost_events++;
        c->lost_bytes += call_bytes;
    }
}

static __always_inline void emit(void *record, __u64 size, __u64 call_bytes)
{
    emit_flagged(record, size, call_bytes, false);
}

static __always_inline void count_filtered(void)
{
    struct l7_counters *c = counters_here();
    if (c)
        c->filtered_events++;
}

/* Which tgids may have an entry in `proc_verdict`: one bit per tgid modulo
 * L7_VERDICT_BITS, set (by user space through the mmapped .bss, or by
 * on_fork) before an entry is added, never cleared. Most syscalls on a host
 * come from processes with no entry, and this spares them the hash lookup. */
__u64 verdict_bits[L7_VERDICT_BITS / 64];

static __always_inline bool may_have_verdict(__u32 tgid)
{
    __u32 bit = tgid % L7_VERDICT_BITS;
    return verdict_bits[bit / 64] & (1ULL << (bit % 64));
}

static __always_inline void note_verdict(__u32 tgid)
{
    __u32 bit = tgid % L7_VERDICT_BITS;
    __sync_fetch_and_or(&verdict_bits[bit / 64], 1ULL << (bit % 64));
}

static __always_inline bool process_selected(__u32 tgid)
{
    if (tgid == self_tgid)
        return false;
    __u8 verdict = 0;
    if (may_have_verdict(tgid)) {
        __u8 *v = bpf_map_lookup_elem(&proc_verdict, &tgid);
        verdict = v ? (*v & 0x0f) : 0;
    }
    if (verdict == L7_VERDICT_IGNORE)
        return false;
    if (process_mode == L7_MODE_LISTED)
        return verdict == L7_VERDICT_TRACE;
    return true;
}

/* This thread's state if its process is traced (created then), else NULL.
 * A traced thread keeps the answer in its state, which spares its syscalls
 * the proc_verdict lookup; a thread of an untraced process gets no state. */
static __always_inline struct thread_state *selected_thread(struct task_struct *task, __u32 tgid)
{
    struct thread_state *t = task->bpf_storage ? this_thread(task, 0) : NULL;
    /* Read before `proc_verdict`: a change made after this read moves it. */
    __u64 decided_at = verdict_changes + 1;
    barrier();
    if (t && t->selection_at == decided_at)
        return t->selected ? t : NULL;
    bool selected = process_selected(tgid);
    if (selected && !t)
        t = this_thread(task, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (t) {
        t->selected = selected;
        t->selection_at = decided_at;
    }
    return selected ? t : NULL;
}

/* fd → file → inode (a socket?) → struct socket → sk (TCP over IPv4/IPv6?). */
static __always_inline struct sock *tcp_sock_of_fd(int fd)
{
    if (fd < 0)
        return NULL;
    /* Loads through the task's BTF pointer need no helper call: this walk
     * runs for every call of a traced process on an fd not yet known (all
     * its file and pipe I/O). A value read with a probe has no type, so the
     * rest goes through probes. */
    struct task_struct *task = bpf_get_current_task_btf();
    struct fdtable *fdt = task->files->fdt;
    if (!fdt)
        return NULL;
    if ((unsigned int)fd >= fdt->max_fds)
        return NULL;
    struct file **fds = fdt->fd;
    struct file *file = NULL;
    bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
    if (!file)
        return NULL;
    umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
    if ((mode & S_IFMT) != S_IFSOCK)
        return NULL;
    struct socket *socket = BPF_CORE_READ(file, private_data);
    if (!socket)
        return NULL;
    struct sock *sk = BPF_CORE_READ(socket, sk);
    if (!sk)
        return NULL;
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != AF_INET && family != AF_INET6)
        return NULL;
    if (BPF_CORE_READ(sk, sk_type) != SOCK_STREAM || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
        return NULL;
    return sk;
}

static __always_inline void read_addresses(struct sock *sk, struct l7_address *local, struct l7_address *remote)
{
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
    remote->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (family == AF_INET) {
        local->family = 4;
        remote->family = 4;
        BPF_CORE_READ_INTO((__u32 *)local->addr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO((__u32 *)remote->addr, sk, __sk_common.skc_daddr);
    } else {
        local->family = 6;
        remote->family = 6;
        BPF_CORE_READ_INTO((struct in6_addr *)local->addr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO((struct in6_addr *)remote->addr, sk, __sk_common.skc_v6_daddr);
    }
}

/* Loopback (127/8, ::1, ::ffff:127/104) or the same address as ours.
 * Compared as 32-bit words: that is the alignment `addr` has in a record. */
static __always_inline bool peer_on_this_host(struct l7_address *local, struct l7_address *remote)
{
    __u32 *r = (__u32 *)remote->addr, *l = (__u32 *)local->addr;
    if (remote->family == 4)
        return remote->addr[0] == 127 || r[0] == l[0];
    if (r[0] == l[0] && r[1] == l[1] && r[2] == l[2] && r[3] == l[3])
        return true;
    if (r[0] != 0 || r[1] != 0)
        return false;
    if (r[2] == 0 && r[3] == bpf_htonl(1))
        return true;
    return r[2] == bpf_htonl(0xffff) && remote->addr[12] == 127;
}

static __always_inline bool port_selected(__u16 port)
{
    return bpf_map_lookup_elem(&ports, &port) != NULL;
}

/* Creates the `conns` entry of a TCP socket and, if it is selected, tells
 * user space with an open event. Returns the stored entry. */
static __always_inline struct l7_conn *track(__u64 pid_tgid, int fd, struct sock *sk, __u8 role, __u64 now)
{
    struct l7_conn_key key = { .tgid = pid_tgid >> 32, .fd = fd };
    struct l7_open_event open = {};
    struct l7_conn conn = {};

    read_addresses(sk, &open.local, &open.remote);
    conn.conn_id = __sync_fetch_and_add(&next_conn_id, 1);
    conn.role = role;
    conn.remote_port = open.remote.port;
    conn.state = L7_CONN_TRACED;
    if (port_selection && !port_selected(open.local.port) && !port_selected(open.remote.port))
        conn.state = L7_CONN_UNSELECTED;
    if (role != L7_ROLE_CLIENT && peer_on_this_host(&open.local, &open.remote)) {
        __u16 peer = open.remote.port;
        if (bpf_map_lookup_elem(&self_ports, &peer))
            conn.state = L7_CONN_UNSELECTED;
        else
            conn.self_check_pending = 1;
    }
    bpf_map_update_elem(&conns, &key, &conn, BPF_ANY);

    if (conn.state == L7_CONN_TRACED) {
        open.header.kind = L7_EVENT_OPEN;
        open.header.tgid = key.tgid;
        open.header.tid = (__u32)pid_tgid;
        open.header.timestamp_ns = now;
        open.conn_id = conn.conn_id;
        open.fd = fd;
        open.role = role;
        emit(&open, sizeof(open), 0);
    }
    return bpf_map_lookup_elem(&conns, &key);
}

/* Copies what fits below `limit` of one buffer after the `*copied` bytes
 * already in the scratch data. False when it cannot be read: the copy stops
 * there. */
static __always_inline bool copy_iovec(struct scratch *s, const struct iovec *iov, __u64 limit, __u64 *copied)
{
    __u64 off = *copied;
    __u64 n = iov->iov_len;
    if (n > limit - off)
        n = limit - off;
    barrier_var(off);
    if (off >= L7_MAX_CAPTURE_BYTES)
        return false;
    barrier_var(n);
    if (n > L7_MAX_CAPTURE_BYTES)
        n = L7_MAX_CAPTURE_BYTES;
    if (bpf_probe_read_user(s->data + off, n, iov->iov_base))
        return false;
    *copied = off + n;
    return true;
}

struct iovec_copy {
    const struct iovec *iovs;
    __u64 limit;
    __u64 copied;
};

/* One iovec per bpf_loop step: the verifier checks this body once instead of
 * once per unrolled iteration, which lets gRPC's 20-odd iovec sendmsg calls be
 * walked without the program outgrowing the verifier's budget. */
static long copy_one_iovec(__u32 index, struct iovec_copy *c)
{
    if (c->copied >= c->limit)
        return 1;
    __u32 cpu = bpf_get_smp_processor_id();
    struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
    if (!s)
        return 1;
    struct iovec iov;
    if (bpf_probe_read_user(&iov, sizeof(iov), &c->iovs[index]))
        return 1;
    return !copy_iovec(s, &iov, c->limit, &c->copied);
}

/* Copies up to `limit` bytes spread over the first iovecs into the scratch
 * data. Most vectored calls have one or two buffers (a response's head and
 * body): those are read with one probe and copied without a loop, which
 * costs a call, a map lookup and a probe per buffer. */
static __always_inline __u32 copy_iovecs(struct scratch *s, const struct iovec *iovs, __u64 count, __u64 limit)
{
    struct iovec first[2] = {};
    __u64 copied = 0;
    if (count == 0)
        return 0;
    if (bpf_probe_read_user(first, count == 1 ? sizeof(first[0]) : sizeof(first), iovs))
        return 0;
    if (!copy_iovec(s, &first[0], limit, &copied) || count == 1 || copied >= limit)
        return copied;
    if (!copy_iovec(s, &first[1], limit, &copied) || count == 2 || copied >= limit)
        return copied;
    if (count > L7_MAX_IOVECS)
        count = L7_MAX_IOVECS;
    struct iovec_copy c = { .iovs = iovs + 2, .limit = limit, .copied = copied };
    bpf_loop(count - 2, copy_one_iovec, &c, 0);
    return c.copied;
}

/* Sends the chunk in the scratch (possibly empty, to end the call). */
static __always_inline void emit_chunk(struct scratch *s, struct chunk_walk *w, bool more)
{
    __u64 fill = w->fill;
    barrier_var(fill);
    if (fill > L7_MAX_CAPTURE_BYTES)
        return;
    s->event.captured = fill;
    s->event.offset = w->chunk_offset;
    s->event.chunk_flags = more ? L7_CHUNK_MORE : 0;
    emit(&s->event, sizeof(struct l7_data_event) + fill, more ? 0 : w->returned);
    w->copied += fill;
    w->chunk_offset += fill;
    w->fill = 0;
}

/* One step: take the next iovec, or copy what fits of the current buffer
 * into the chunk; send the chunk when it is full or the call is done. A
 * piece that cannot be read ends the copy (the rest is a hole). One place
 * sends, so that the verifier has few paths to follow. */
static long chunk_step(__u32 index, void *unused)
{
    __u32 cpu = bpf_get_smp_processor_id();
    struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
    if (!s)
        return 1;
    struct chunk_walk *w = &s->walk;
    bool last = false;
    if (w->left == 0) {
        struct iovec iov;
        if (w->iov_index >= w->iov_count || w->iov_index >= L7_MAX_CHUNKED_IOVECS ||
            bpf_probe_read_user(&iov, sizeof(iov), &w->iovs[w->iov_index])) {
            last = true;
        } else {
            w->iov_index++;
            w->base = (__u64)iov.iov_base;
            w->left = iov.iov_len;
            return 0;
        }
    } else {
        __u64 fill = w->fill;
        barrier_var(fill);
        if (fill >= L7_MAX_CAPTURE_BYTES)
            return 1;
        __u64 n = L7_MAX_CAPTURE_BYTES - fill;
        if (n > w->left)
            n = w->left;
        if (n > w->total - w->done)
            n = w->total - w->done;
        barrier_var(n);
        if (n > L7_MAX_CAPTURE_BYTES)
            return 1;
        if (bpf_probe_read_user(s->data + fill, n, (const void *)w->base)) {
            last = true;
        } else {
            w->fill = fill + n;
            w->base += n;
            w->left -= n;
            w->done += n;
            last = w->done >= w->total;
        }
    }
    if (!last && w->fill < L7_MAX_CAPTURE_BYTES)
        return 0;
    emit_chunk(s, w, !last);
    return last;
}

/* Copies a call of an HTTP/2 connection whole, in chunks, up to a cap.
 * Returns the bytes sent. */
static __always_inline __u64 emit_chunked(struct scratch *s, struct call_args *call, __u64 returned)
{
    struct chunk_walk *w = &s->walk;
    __builtin_memset(w, 0, sizeof(*w));
    w->returned = returned;
    w->total = returned < L7_MAX_CHUNKED_CALL_BYTES ? returned : L7_MAX_CHUNKED_CALL_BYTES;
    if (call->op == OP_IOVEC) {
        w->iovs = (const struct iovec *)call->buf;
        w->iov_count = call->count;
    } else {
        w->base = call->buf;
        w->left = w->total;
    }
    /* At most one step per chunk, per iovec and per unreadable piece. */
    bpf_loop(L7_MAX_CHUNKED_CALL_BYTES / L7_MAX_CAPTURE_BYTES + 2 * L7_MAX_CHUNKED_IOVECS + 2,
             chunk_step, NULL, 0);
    return w->copied;
}

/* "PRI * HT", the start of the client preface, as a little-endian word. */
#define HTTP2_PREFACE_START 0x5448202a20495250ULL

/* Sends what the call moved. Returns whether its bytes begin with the HTTP/2
 * client preface (the caller flags the connection). */
static __always_inline bool emit_data(struct call_args *call, __u64 pid_tgid, __u64 conn_id, __u8 conn_flags,
                                      __u64 returned, __u64 now, __u8 source)
{
    __u32 cpu = bpf_get_smp_processor_id();
    struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
    if (!s)
        return false;

    struct l7_data_event *e = &s->event;
    e->header.kind = L7_EVENT_DATA;
    e->header.tgid = pid_tgid >> 32;
    e->header.tid = (__u32)pid_tgid;
    e->header.timestamp_ns = now;
    e->conn_id = conn_id;
    e->enter_ns = call->enter_ns;
    e->returned = returned;
    e->fd = call->fd;
    e->direction = call->direction;
    e->source = source;
    e->chunk_flags = 0;
    e->offset = 0;

    __u64 captured = 0;
    bool preface = false;
    if ((conn_flags & L7_CONN_FLAG_HTTP2) && returned > capture_bytes && call->op != OP_NOCOPY) {
        captured = emit_chunked(s, call, returned);
    } else {
        __u64 limit = returned < capture_bytes ? returned : capture_bytes;
        if (call->op == OP_BUFFER) {
            __u64 n = limit;
            barrier_var(n);
            if (n > L7_MAX_CAPTURE_BYTES)
                n = L7_MAX_CAPTURE_BYTES;
            if (bpf_probe_read_user(s->data, n, (const void *)call->buf) == 0)
                captured = n;
        } else if (call->op == OP_IOVEC) {
            captured = copy_iovecs(s, (const struct iovec *)call->buf, call->count, limit);
        }
        e->captured = captured;
        preface = captured >= 8 && *(__u64 *)s->data == HTTP2_PREFACE_START;
        __u64 size = sizeof(struct l7_data_event) + captured;
        barrier_var(size);
        if (size > sizeof(struct l7_data_event) + L7_MAX_CAPTURE_BYTES)
            return preface;
        emit(e, size, returned);
    }

    struct l7_counters *c = counters_here();
    if (c && returned > captured)
        c->uncaptured_bytes += returned - captured;
    return preface;
}

/* Marks (tgid, fd) as HTTP/2 if it still is connection `conn_id`. */
static __always_inline void flag_http2(__u32 tgid, int fd, __u64 conn_id)
{
    struct l7_conn_key key = { .tgid = tgid, .fd = fd };
    struct l7_conn *conn = bpf_map_lookup_elem(&conns, &key);
    if (conn && conn->conn_id == conn_id)
        conn->flags |= L7_CONN_FLAG_HTTP2;
}

/* By the first data on a server side, the tracer's own connect (if this
 * is it) has returned and recorded its port. */
static __always_inline void self_check(struct l7_conn *conn)
{
    if (!conn->self_check_pending)
        return;
    __u16 peer = conn->remote_port;
    conn->self_check_pending = 0;
    if (bpf_map_lookup_elem(&self_ports, &peer)) {
        conn->state = L7_CONN_IGNORED;
        conn->flags |= L7_CONN_FLAG_SELF;
    }
}

static __always_inline void count_ciphertext(void)
{
    struct l7_counters *c = counters_here();
    if (c)
        c->ciphertext_calls++;
}

/* ---- OpenSSL: which socket an SSL call uses ----
 *
 * An SSL_read/SSL_write in progress on a thread leaves its `ssl_call` in the
 * thread's state.
 * The socket syscall that OpenSSL makes underneath, on the same thread,
 * names the connection (the nested-syscall method: no OpenSSL struct is
 * read). Its own bytes are ciphertext and are not sent. */

struct ssl_object_key {
    __u64 ssl;
    __u32 tgid;
    __u32 pad;
};

/* The SSL call in progress on this thread, if any. */
static __always_inline struct ssl_call *current_ssl_call(void)
{
    struct thread_state *t = this_thread(bpf_get_current_task_btf(), 0);
    return t && t->ssl.pending ? &t->ssl : NULL;
}

/* The socket each SSL object last used, for reads that OpenSSL serves from
 * its own buffer without a syscall. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ssl_object_key);
    __type(value, __s32);
} ssl_fds SEC(".maps");

/* Whether this thread is inside SSL_read/SSL_write; if so the socket is
 * recorded as that call's and the syscall itself is left alone. */
static __always_inline bool under_ssl_call(struct thread_state *t, int fd, struct l7_conn *conn)
{
    struct ssl_call *ssl = &t->ssl;
    if (!ssl->pending)
        return false;
    if (ssl->fd < 0 && (conn || tcp_sock_of_fd(fd)))
        ssl->fd = fd;
    if (conn && (conn->flags & L7_CONN_FLAG_TLS))
        count_ciphertext();
    return true;
}

/* The connection whose bytes a call moved, if they are to be sent: `conn`
 * as found in `conns`, else the fd's TCP socket (`sk` when already found)
 * tracked now — a socket that predates the tracer, or whose entry was
 * evicted. NULL for anything else, counted. */
static __always_inline struct l7_conn *traced_conn(__u64 pid_tgid, int fd, struct l7_conn *conn, struct sock *sk)
{
    if (!conn) {
        if (!sk)
            sk = tcp_sock_of_fd(fd);
        if (!sk)
            return NULL;
        conn = track(pid_tgid, fd, sk, L7_ROLE_UNKNOWN, bpf_ktime_get_ns());
        if (!conn)
            return NULL;
    }
    self_check(conn);
    if (conn->state != L7_CONN_TRACED) {
        count_filtered();
        return NULL;
    }
    if (conn->flags & L7_CONN_FLAG_TLS) {
        count_ciphertext();
        return NULL;
    }
    return conn;
}

/* ---- entry / exit of the data syscalls ----
 *
 * Writes are seen at both ends: a client span starts at the entry of its
 * first request write. Reads are seen at their exit only (ingress_exit). */

static __always_inline int data_enter(int fd, __u64 buf, __u64 count, __u8 op, __u8 direction)
{
    struct task_struct *task = bpf_get_current_task_btf();
    __u32 tgid = task->tgid;
    struct thread_state *t = selected_thread(task, tgid);
    if (!t)
        return 0;

    struct call_args call = {
        .buf = buf, .count = count, .fd = fd, .op = op, .direction = direction,
    };
    /* Read before `conns`: a change made after this read moves it. */
    call.conn_changes = conn_changes;
    barrier();
    struct l7_conn_key key = { .tgid = tgid, .fd = fd };
    struct l7_conn *conn = bpf_map_lookup_elem(&conns, &key);
    if (under_ssl_call(t, fd, conn))
        return 0;
    if (conn) {
        if (conn->state != L7_CONN_TRACED) {
            count_filtered();
            return 0;
        }
        if (conn->flags & L7_CONN_FLAG_TLS) {
            count_ciphertext();
            return 0;
        }
        call.conn_id = conn->conn_id;
        call.conn_flags = conn->flags;
        call.conn_known = !conn->self_check_pending;
    } else {
        struct sock *sk = tcp_sock_of_fd(fd);
        if (!sk)
            return 0;
        call.sk = (__u64)sk;
    }
    call.enter_ns = bpf_ktime_get_ns();
    call.pending = 1;
    t->call = call;
    return 0;
}

static __always_inline int data_exit(long ret)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct call_args call;
    if (!take_call(task, &call))
        return 0;
    if (ret <= 0)
        return 0;
    __u64 pid_tgid = pid_tgid_of(task);

    __u64 now = bpf_ktime_get_ns();
    /* The common case: the entry saw the connection traced and nothing has
     * changed in `conns` since. */
    if (call.conn_known && call.conn_changes == conn_changes) {
        if (emit_data(&call, pid_tgid, call.conn_id, call.conn_flags, (__u64)ret, now, L7_SOURCE_SYSCALL) &&
            !(call.conn_flags & L7_CONN_FLAG_HTTP2))
            flag_http2(pid_tgid >> 32, call.fd, call.conn_id);
        return 0;
    }
    struct l7_conn_key key = { .tgid = pid_tgid >> 32, .fd = call.fd };
    struct l7_conn *conn = traced_conn(pid_tgid, call.fd, bpf_map_lookup_elem(&conns, &key), (struct sock *)call.sk);
    if (!conn)
        return 0;
    if (emit_data(&call, pid_tgid, conn->conn_id, conn->flags, (__u64)ret, now, L7_SOURCE_SYSCALL))
        conn->flags |= L7_CONN_FLAG_HTTP2;
    return 0;
}

/* How the four reads (read, readv, recvfrom, recvmsg) pass their buffers. */
enum read_kind {
    READ_BUFFER,  /* read, recvfrom: fd, buf, len (recvfrom: flags fourth) */
    READ_IOVEC,   /* readv: fd, iov, iovcnt */
    READ_MSG,     /* recvmsg: fd, msghdr, flags */
};

/* Reads are seen at their exit only: their arguments are still in the user
 * registers the kernel saved at entry (bpf_task_pt_regs), and a read's bytes
 * can only be copied now anyway. One program run per call instead of two.
 * A read's enter time is then not known and its record carries the exit
 * time for both; no span needs it (a server span starts at the exit of the
 * read that brought its request; a client's response ends at the exit of
 * its last read). The registers are read only for traced threads. */
static __always_inline int ingress_exit(long ret, enum read_kind kind, bool has_flags)
{
    struct task_struct *task = bpf_get_current_task_btf();
    __u32 tgid = task->tgid;
    struct thread_state *t = selected_thread(task, tgid);
    if (!t)
        return 0;
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
    /* A peek leaves the bytes in the socket; the real read reports them. */
    if (has_flags && ((kind == READ_MSG ? PT_REGS_PARM3_SYSCALL(regs) : PT_REGS_PARM4_SYSCALL(regs)) & MSG_PEEK))
        return 0;
    int fd = PT_REGS_PARM1_SYSCALL(regs);
    __u64 buf = PT_REGS_PARM2_SYSCALL(regs);
    __u64 count = PT_REGS_PARM3_SYSCALL(regs);

    struct l7_conn_key key = { .tgid = tgid, .fd = fd };
    struct l7_conn *conn = bpf_map_lookup_elem(&conns, &key);
    if (under_ssl_call(t, fd, conn) || ret <= 0)
        return 0;
    __u64 pid_tgid = pid_tgid_of(task);
    /* A traced process's reads of files and pipes end here, unclocked. */
    conn = traced_conn(pid_tgid, fd, conn, NULL);
    if (!conn)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    if (kind == READ_MSG) {
        struct user_msghdr msg;
        if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)buf))
            return 0;
        buf = (__u64)msg.msg_iov;
        count = msg.msg_iovlen;
    }
    struct call_args call = {
        .buf = buf, .count = count, .enter_ns = now, .fd = fd,
        .op = kind == READ_BUFFER ? OP_BUFFER : OP_IOVEC, .direction = L7_DIR_INGRESS,
    };
    if (emit_data(&call, pid_tgid, conn->conn_id, conn->flags, (__u64)ret, now, L7_SOURCE_SYSCALL))
        conn->flags |= L7_CONN_FLAG_HTTP2;
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx)
{
    return ingress_exit(ctx->ret, READ_BUFFER, false);
}

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx)
{
    return data_enter(ctx->args[0], ctx->args[1], ctx->args[2], OP_BUFFER, L7_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct trace_event_raw_sys_exit *ctx)
{
    return data_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct trace_event_raw_sys_exit *ctx)
{
    return ingress_exit(ctx->ret, READ_IOVEC, false);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx)
{
    return data_enter(ctx->args[0], ctx->args[1], ctx->args[2], OP_IOVEC, L7_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct trace_event_raw_sys_exit *ctx)
{
    return data_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
    return data_enter(ctx->args[0], ctx->args[1], ctx->args[2], OP_BUFFER, L7_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
    return data_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
    return ingress_exit(ctx->ret, READ_BUFFER, true);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
    struct user_msghdr msg;
    if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ctx->args[1]))
        return 0;
    return data_enter(ctx->args[0], (__u64)msg.msg_iov, msg.msg_iovlen, OP_IOVEC, L7_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
    return data_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
    return ingress_exit(ctx->ret, READ_MSG, true);
}

/* sendfile moves file bytes (nginx's static files) into the socket: no
 * payload to copy, but the count keeps the response body's length right. */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int enter_sendfile(struct trace_event_raw_sys_enter *ctx)
{
    return data_enter(ctx->args[0], 0, ctx->args[3], OP_NOCOPY, L7_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int exit_sendfile(struct trace_event_raw_sys_exit *ctx)
{
    return data_exit(ctx->ret);
}

/* ---- OpenSSL uprobes ----
 *
 * One entry and one return trap per call, no more: a write's bytes are
 * still in the caller's buffer at return, when the count written is known,
 * so both directions are copied at return. Attached per library file by
 * user space (l7_probes_attach_ssl). */

static __always_inline int ssl_enter(void *ssl, const void *buf, __u64 length_out, __u8 direction)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if (!process_selected(pid_tgid >> 32))
        return 0;
    struct ssl_call call = {
        .ssl = (__u64)ssl, .buf = (__u64)buf, .length_out = length_out,
        .enter_ns = bpf_ktime_get_ns(), .fd = -1, .direction = direction, .pending = 1,
    };
    struct thread_state *t = this_thread(bpf_get_current_task_btf(), BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (t)
        t->ssl = call;
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
    return ssl_enter(ssl, buf, 0, L7_DIR_INGRESS);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf, int num)
{
    return ssl_enter(ssl, buf, 0, L7_DIR_EGRESS);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
    return ssl_enter(ssl, buf, (__u64)readbytes, L7_DIR_INGRESS);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
    return ssl_enter(ssl, buf, (__u64)written, L7_DIR_EGRESS);
}

static __always_inline void count_unattributed(void)
{
    struct l7_counters *c = counters_here();
    if (c)
        c->ssl_unattributed++;
}

/* The return of all four functions. */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_exit, long ret)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    struct ssl_call *stored = current_ssl_call();
    if (!stored)
        return 0;
    struct ssl_call call = *stored;
    stored->pending = 0;
    __u32 tgid = pid_tgid >> 32;

    struct ssl_object_key object = { .ssl = call.ssl, .tgid = tgid };
    __s32 fd = call.fd;
    __s32 *last = bpf_map_lookup_elem(&ssl_fds, &object);
    if (fd < 0 && last)
        fd = *last;
    else if (fd >= 0 && (!last || *last != fd))
        bpf_map_update_elem(&ssl_fds, &object, &fd, BPF_ANY); /* updates cost more than lookups */

    /* Both forms return an int: <= 0 (WANT_READ, WANT_WRITE, errors) moved nothing. */
    int rc = (int)ret;
    __u64 moved;
    if (call.length_out) {
        __u64 n = 0;
        if (rc != 1 || bpf_probe_read_user(&n, sizeof(n), (const void *)call.length_out))
            return 0;
        moved = n;
    } else {
        if (rc <= 0)
            return 0;
        moved = rc;
    }
    if (moved == 0)
        return 0;
    if (fd < 0) {
        count_unattributed();
        return 0;
    }

    __u64 now = bpf_ktime_get_ns();
    struct l7_conn_key key = { .tgid = tgid, .fd = fd };
    struct l7_conn *conn = bpf_map_lookup_elem(&conns, &key);
    if (!conn) {
        struct sock *sk = tcp_sock_of_fd(fd);
        if (!sk) {
            count_unattributed();
            return 0;
        }
        conn = track(pid_tgid, fd, sk, L7_ROLE_UNKNOWN, now);
        if (!conn)
            return 0;
    }
    self_check(conn);
    /* An ignore verdict given before any plaintext judged the ciphertext:
     * the plaintext gets its own chance. */
    if (conn->state == L7_CONN_IGNORED && !(conn->flags & (L7_CONN_FLAG_TLS | L7_CONN_FLAG_SELF)))
        conn->state = L7_CONN_TRACED;
    if (conn->state != L7_CONN_TRACED) {
        count_filtered();
        return 0;
    }
    if (!(conn->flags & L7_CONN_FLAG_TLS)) {
        conn->flags |= L7_CONN_FLAG_TLS;
        __sync_fetch_and_add(&conn_changes, 1);
    }

    struct call_args args = {
        .buf = call.buf, .count = moved, .enter_ns = call.enter_ns,
        .fd = fd, .op = OP_BUFFER, .direction = call.direction,
    };
    if (emit_data(&args, pid_tgid, conn->conn_id, conn->flags, moved, now, L7_SOURCE_SSL))
        conn->flags |= L7_CONN_FLAG_HTTP2;
    struct l7_counters *c = counters_here();
    if (c)
        c->ssl_events++;
    return 0;
}

/* ---- connection lifecycle ---- */

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    /* The tracer's own connects are followed only to learn their ports. */
    if (tgid != self_tgid && !process_selected(tgid))
        return 0;
    int fd = ctx->args[0];
    struct sock *sk = tcp_sock_of_fd(fd);
    if (!sk)
        return 0;
    struct call_args call = { .fd = fd, .op = OP_CONNECT, .sk = (__u64)sk };
    stash_call(&call);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    struct call_args call;
    if (!take_call(bpf_get_current_task_btf(), &call))
        return 0;
    if (call.op != OP_CONNECT || (ctx->ret != 0 && ctx->ret != -EINPROGRESS))
        return 0;
    struct sock *sk = (struct sock *)call.sk;

    if ((__u32)(pid_tgid >> 32) == self_tgid) {
        __u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
        __u8 one = 1;
        bpf_map_update_elem(&self_ports, &port, &one, BPF_ANY);
        return 0;
    }
    /* A non-blocking connect may be called again on the same socket. */
    struct l7_conn_key key = { .tgid = pid_tgid >> 32, .fd = call.fd };
    struct l7_conn *known = bpf_map_lookup_elem(&conns, &key);
    if (known && known->role == L7_ROLE_CLIENT)
        return 0;
    track(pid_tgid, call.fd, sk, L7_ROLE_CLIENT, bpf_ktime_get_ns());
    return 0;
}

static __always_inline int accept_enter(void)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if (!process_selected(pid_tgid >> 32))
        return 0;
    struct call_args call = { .op = OP_ACCEPT };
    stash_call(&call);
    return 0;
}

static __always_inline int accept_exit(long ret)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    struct call_args call;
    if (!take_call(bpf_get_current_task_btf(), &call))
        return 0;
    __u8 op = call.op;
    if (op != OP_ACCEPT || ret < 0)
        return 0;
    struct sock *sk = tcp_sock_of_fd(ret);
    if (!sk)
        return 0;
    track(pid_tgid, ret, sk, L7_ROLE_SERVER, bpf_ktime_get_ns());
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int enter_accept(struct trace_event_raw_sys_enter *ctx)
{
    return accept_enter();
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
    return accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int enter_accept4(struct trace_event_raw_sys_enter *ctx)
{
    return accept_enter();
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
    return accept_exit(ctx->ret);
}

/* At entry: whatever close returns, the fd stops naming this connection. */
SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    /* With --pid only processes that had a verdict ever had a connection
     * tracked: the others' closes (files, pipes) need no lookup. */
    if (process_mode == L7_MODE_LISTED && !may_have_verdict(tgid))
        return 0;
    struct l7_conn_key key = { .tgid = tgid, .fd = ctx->args[0] };
    struct l7_conn *conn = bpf_map_lookup_elem(&conns, &key);
    if (!conn)
        return 0;
    __u64 conn_id = conn->conn_id;
    __u8 state = conn->state;
    bpf_map_delete_elem(&conns, &key);
    if (state == L7_CONN_UNSELECTED)
        return 0;

    struct l7_close_event e = {};
    e.header.kind = L7_EVENT_CLOSE;
    e.header.tgid = key.tgid;
    e.header.tid = (__u32)pid_tgid;
    e.header.timestamp_ns = bpf_ktime_get_ns();
    e.conn_id = conn_id;
    e.fd = key.fd;
    emit(&e, sizeof(e), 0);
    return 0;
}

/* ---- processes ---- */

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    if (tgid == self_tgid)
        return 0;
    __u8 *v = bpf_map_lookup_elem(&proc_verdict, &tgid);
    __u8 verdict = v ? *v : 0;
    if (process_mode == L7_MODE_LISTED && (verdict & 0x0f) != L7_VERDICT_TRACE)
        return 0;
    /* A new program may be another service: user space decides again. */
    if (process_mode == L7_MODE_DECIDE && v && !(verdict & L7_VERDICT_PINNED)) {
        bpf_map_delete_elem(&proc_verdict, &tgid);
        __sync_fetch_and_add(&verdict_changes, 1);
    }

    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct l7_exec_event e = {};
    e.header.kind = L7_EVENT_EXEC;
    e.header.tgid = tgid;
    e.header.tid = (__u32)pid_tgid;
    e.header.timestamp_ns = bpf_ktime_get_ns();
    e.ppid = BPF_CORE_READ(task, real_parent, tgid);
    /* Urgent: user space reads the new program's name and environment from
     * /proc while it runs; a short-lived client is gone by the next batch. */
    emit_flagged(&e, sizeof(e), 0, true);
    return 0;
}

/* Children inherit the parent's verdict: workers forked by a selected master
 * are selected too. Threads share the tgid and need nothing. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 parent_tgid = BPF_CORE_READ(parent, tgid);
    __u32 child_tgid = BPF_CORE_READ(child, tgid);
    if (parent_tgid == child_tgid)
        return 0;
    __u8 *v = bpf_map_lookup_elem(&proc_verdict, &parent_tgid);
    if (!v)
        return 0;
    __u8 inherited = *v & ~L7_VERDICT_PINNED;
    note_verdict(child_tgid);
    bpf_map_update_elem(&proc_verdict, &child_tgid, &inherited, BPF_ANY);
    __sync_fetch_and_add(&verdict_changes, 1);
    return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    if ((__u32)pid_tgid != tgid || tgid == self_tgid)
        return 0;
    __u8 *v = bpf_map_lookup_elem(&proc_verdict, &tgid);
    bool traced = v && (*v & 0x0f) == L7_VERDICT_TRACE;
    if (v) {
        bpf_map_delete_elem(&proc_verdict, &tgid);
        __sync_fetch_and_add(&verdict_changes, 1);
    }
    if (process_mode == L7_MODE_LISTED && !traced)
        return 0;

    struct l7_exit_event e = {};
    e.header.kind = L7_EVENT_EXIT;
    e.header.tgid = tgid;
    e.header.tid = (__u32)pid_tgid;
    e.header.timestamp_ns = bpf_ktime_get_ns();
    emit(&e, sizeof(e), 0);
    return 0;
}
