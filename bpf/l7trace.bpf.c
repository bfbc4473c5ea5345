// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * l7trace kernel side: socket syscall tracepoints that copy a bounded prefix
 * of what TCP sockets read and write into a ring buffer, OpenSSL uprobes for
 * the plaintext of TLS connections, and process lifecycle events. Layouts
 * are in l7trace_abi.h; one object, built from one header per concern:
 *
 *   config.h     what user space sets before load; shared globals
 *   maps.h       maps and the per-thread and per-CPU state
 *   compat.h     every difference between kernels (5.10 on) and its fallback
 *   emit.h       records into the ring; wake-up policy; counters
 *   selection.h  which processes are traced
 *   conn.h       which fds are traced TCP connections
 *   copy.h       what a call moved, into records
 *   ssl.h        OpenSSL probes
 *   lifecycle.h  connect, accept, close, exec, fork, exit
 *   this file    the data syscalls
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

#include "config.h"
#include "maps.h"
#include "compat.h"
#include "emit.h"
#include "selection.h"
#include "conn.h"
#include "copy.h"
#include "ssl.h"
#include "lifecycle.h"

/* ---- entry / exit of the data syscalls ----
 *
 * Writes are seen at both ends: a client span starts at the entry of its
 * first request write. Reads are seen at their exit (ingress_exit). */

static __always_inline int data_enter(int fd, __u64 buf, __u64 count, __u8 op, __u8 direction)
{
    struct task_struct *task = current_task();
    __u32 tgid = task_tgid(task);
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
    if (under_ssl_call(task, t, fd, conn))
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
        struct sock *sk = tcp_sock_of_fd(task, fd);
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
    struct task_struct *task = current_task();
    struct call_args call;
    if (!take_call(task, &call))
        return 0;
    if (ret <= 0 || call.op > OP_NOCOPY)
        return 0;
    __u64 pid_tgid = task_pid_tgid(task);

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
    struct l7_conn *conn = traced_conn(task, pid_tgid, call.fd, bpf_map_lookup_elem(&conns, &key), (struct sock *)call.sk);
    if (!conn)
        return 0;
    if (emit_data(&call, pid_tgid, conn->conn_id, conn->flags, (__u64)ret, now, L7_SOURCE_SYSCALL))
        conn->flags |= L7_CONN_FLAG_HTTP2;
    return 0;
}

/* A read's enter time is not known and its record carries the exit time for
 * both; no span needs it (a server span starts at the exit of the read that
 * brought its request; a client's response ends at the exit of its last
 * read). */
static __always_inline int ingress_exit(long ret, enum read_kind kind, bool has_flags)
{
    struct task_struct *task = current_task();
    __u32 tgid = task_tgid(task);
    struct thread_state *t = selected_thread(task, tgid);
    if (!t)
        return 0;
    struct read_args args;
    if (!read_args_at_exit(task, t, kind, has_flags, &args))
        return 0;
    /* A peek leaves the bytes in the socket; the real read reports them. */
    if (args.flags & MSG_PEEK)
        return 0;
    int fd = args.fd;
    struct l7_conn_key key = { .tgid = tgid, .fd = fd };
    struct l7_conn *conn = bpf_map_lookup_elem(&conns, &key);
    if (under_ssl_call(task, t, fd, conn) || ret <= 0)
        return 0;
    __u64 pid_tgid = task_pid_tgid(task);
    /* A traced process's reads of files and pipes end here, unclocked. */
    conn = traced_conn(task, pid_tgid, fd, conn, NULL);
    if (!conn)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    __u64 buf = args.buf, count = args.count;
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

/* Before 5.15 only (see compat.h): a read's entry saves its arguments. */
static __always_inline int ingress_enter(int fd, __u64 buf, __u64 count, __u64 flags)
{
    struct task_struct *task = current_task();
    struct thread_state *t = selected_thread(task, task_tgid(task));
    if (t)
        save_read_args(t, fd, buf, count, flags);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx)
{
    return ingress_enter(ctx->args[0], ctx->args[1], ctx->args[2], 0);
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

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx)
{
    return ingress_enter(ctx->args[0], ctx->args[1], ctx->args[2], 0);
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

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
    return ingress_enter(ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3]);
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

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
    return ingress_enter(ctx->args[0], ctx->args[1], 0, ctx->args[2]);
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
