/* ---- connections and processes: connect, accept, close, exec, fork, exit ---- */
#ifndef L7_LIFECYCLE_H
#define L7_LIFECYCLE_H

static __always_inline struct self_port_pair self_port_pair_of(struct sock *sk)
{
    struct self_port_pair ports = {
        .local = BPF_CORE_READ(sk, __sk_common.skc_num),
        .remote = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)),
    };
    return ports;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
    struct task_struct *task = current_task();
    __u32 tgid = task_tgid(task);
    /* The tracer's own connects are followed only to learn their ports. */
    if (tgid != self_tgid && !process_selected(tgid))
        return 0;
    int fd = ctx->args[0];
    struct sock *sk = tcp_sock_of_fd(task, fd);
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
    if (!take_call(current_task(), &call))
        return 0;
    if (call.op != OP_CONNECT || (ctx->ret != 0 && ctx->ret != -EINPROGRESS))
        return 0;
    struct sock *sk = (struct sock *)call.sk;

    if ((__u32)(pid_tgid >> 32) == self_tgid) {
        struct self_port_pair ports = self_port_pair_of(sk);
        __u8 one = 1;
        bpf_map_update_elem(&self_ports, &ports, &one, BPF_ANY);
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
    struct task_struct *task = current_task();
    struct call_args call;
    if (!take_call(task, &call))
        return 0;
    if (call.op != OP_ACCEPT || ret < 0)
        return 0;
    struct sock *sk = tcp_sock_of_fd(task, ret);
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
    /* Whether the socket outlives this fd: the parent of a forking server
     * closes its copy while the child serves the connection. */
    struct file *file = task_file(current_task(), key.fd);
    bool shared = file && file_shared(file);

    struct l7_close_event e = {};
    e.header.kind = L7_EVENT_CLOSE;
    e.header.tgid = key.tgid;
    e.header.tid = (__u32)pid_tgid;
    e.header.timestamp_ns = bpf_ktime_get_ns();
    e.conn_id = conn_id;
    e.fd = key.fd;
    e.shared = shared;
    emit(&e, sizeof(e), 0);
    return 0;
}

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
        atomic_increment(&verdict_changes);
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
 * are selected too. Threads share the tgid and need nothing. User space is
 * told of the children of traced processes: a child that does not exec is
 * the same program, with its parent's service name, and may be gone from
 * /proc before its spans are made (a forking server's child per connection). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 parent_tgid = BPF_CORE_READ(parent, tgid);
    __u32 child_tgid = BPF_CORE_READ(child, tgid);
    if (parent_tgid == child_tgid || parent_tgid == self_tgid)
        return 0;
    __u8 *v = bpf_map_lookup_elem(&proc_verdict, &parent_tgid);
    if (v) {
        __u8 inherited = *v & ~L7_VERDICT_PINNED;
        note_verdict(child_tgid);
        bpf_map_update_elem(&proc_verdict, &child_tgid, &inherited, BPF_ANY);
        atomic_increment(&verdict_changes);
    }
    if (!process_selected(parent_tgid))
        return 0;

    struct l7_fork_event e = {};
    e.header.kind = L7_EVENT_FORK;
    e.header.tgid = child_tgid;
    e.header.tid = BPF_CORE_READ(child, pid);
    e.header.timestamp_ns = bpf_ktime_get_ns();
    e.parent_tgid = parent_tgid;
    emit(&e, sizeof(e), 0);
    return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    forget_thread((__u32)pid_tgid);
    if ((__u32)pid_tgid != tgid || tgid == self_tgid)
        return 0;
    __u8 *v = bpf_map_lookup_elem(&proc_verdict, &tgid);
    bool traced = v && (*v & 0x0f) == L7_VERDICT_TRACE;
    if (v) {
        bpf_map_delete_elem(&proc_verdict, &tgid);
        atomic_increment(&verdict_changes);
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

#endif
