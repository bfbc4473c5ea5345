/* ---- OpenSSL: uprobes on SSL_read/SSL_write, their _ex forms, SSL_do_handshake ----
 *
 * An SSL_read/SSL_write in progress on a thread leaves its `ssl_call` in the
 * thread's state. The socket syscall that OpenSSL makes underneath, on the
 * same thread, names the connection (the nested-syscall method: no OpenSSL
 * struct is read). Its own bytes are ciphertext and are not sent.
 *
 * One entry and one return trap per call, no more: a write's bytes are
 * still in the caller's buffer at return, when the count written is known,
 * so both directions are copied at return. Attached per library file by
 * user space (l7_probes_attach_ssl). */
#ifndef L7_SSL_H
#define L7_SSL_H

/* Whether this thread is inside SSL_read/SSL_write; if so the socket is
 * recorded as that call's and the syscall itself is left alone. */
static __always_inline bool under_ssl_call(struct task_struct *task, struct thread_state *t, int fd,
                                           struct l7_conn *conn)
{
    struct ssl_call *ssl = &t->ssl;
    if (!ssl->pending)
        return false;
    if (ssl->fd < 0 && (conn || tcp_sock_of_fd(task, fd)))
        ssl->fd = fd;
    if (conn && (conn->flags & L7_CONN_FLAG_TLS))
        count_ciphertext();
    return true;
}

static __always_inline int ssl_enter(void *ssl, const void *buf, __u64 length_out, __u8 direction)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if (!process_selected(pid_tgid >> 32))
        return 0;
    struct ssl_call call = {
        .ssl = (__u64)ssl, .buf = (__u64)buf, .length_out = length_out,
        .enter_ns = bpf_ktime_get_ns(), .fd = -1, .direction = direction, .pending = 1,
    };
    struct thread_state *t = this_thread(current_task(), true);
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

/* SSL_do_handshake (SSL_accept and SSL_connect call it): no plaintext, but
 * its socket syscalls name the SSL object's socket before any read or write.
 * A server whose BIO reads ahead (Apache's mod_ssl) may have the request in
 * hand when the handshake ends, so that its first SSL_read makes no syscall;
 * and whose writes are buffered and flushed after SSL_write returns. */
SEC("uprobe")
int BPF_KPROBE(ssl_handshake_enter, void *ssl)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if (!process_selected(pid_tgid >> 32))
        return 0;
    struct thread_state *t = this_thread(current_task(), true);
    /* Inside a read or write (which may finish a handshake): theirs. */
    if (!t || (t->ssl.pending && t->ssl.direction != L7_SSL_HANDSHAKE))
        return 0;
    struct ssl_call call = { .ssl = (__u64)ssl, .fd = -1, .direction = L7_SSL_HANDSHAKE, .pending = 1 };
    t->ssl = call;
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_handshake_exit, long ret)
{
    struct thread_state *t = this_thread(current_task(), false);
    if (!t || !t->ssl.pending || t->ssl.direction != L7_SSL_HANDSHAKE)
        return 0;
    t->ssl.pending = 0;
    if (t->ssl.fd < 0)
        return 0;
    struct ssl_object_key object = { .ssl = t->ssl.ssl, .tgid = bpf_get_current_pid_tgid() >> 32 };
    __s32 fd = t->ssl.fd;
    bpf_map_update_elem(&ssl_fds, &object, &fd, BPF_ANY);
    return 0;
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
    struct task_struct *task = current_task();
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    struct thread_state *t = this_thread(task, false);
    if (!t || !t->ssl.pending || t->ssl.direction == L7_SSL_HANDSHAKE)
        return 0;
    struct ssl_call call = t->ssl;
    t->ssl.pending = 0;
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
        struct sock *sk = tcp_sock_of_fd(task, fd);
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
        atomic_increment(&conn_changes);
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

#endif
