/* Connections: which fds are TCP sockets, their `conns` entries, and the
 * checks every data call makes before its bytes are copied. */
#ifndef L7_CONN_H
#define L7_CONN_H

/* fd → file → inode (a socket?) → struct socket → sk (TCP over IPv4/IPv6?). */
static __always_inline struct sock *tcp_sock_of_fd(struct task_struct *task, int fd)
{
    if (fd < 0)
        return NULL;
    struct file *file = task_file(task, fd);
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

/* The id of the connection a socket carries: the same whichever process or
 * fd reaches it. A socket is one connection however many fds name it (dup,
 * dup2, fds inherited across fork): a forking server's parent accepts and its
 * child reads the request on fd 0 and writes the response on fd 1, and these
 * are one exchange. Derived from the socket rather than numbered per
 * (process, fd), so no map has to carry it from fd to fd: the inode number
 * is unique among sockets until 2^32 pseudo inodes later, and the struct's
 * address (unique among live sockets) makes a reuse of both at once
 * impossible in practice. */
static __always_inline __u64 socket_conn_id(struct sock *sk)
{
    __u32 ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
    return (__u64)ino << 32 | (__u32)((__u64)sk >> 6);
}

/* Creates the `conns` entry of a TCP socket and, if it is selected, tells
 * user space with an open event (also when the socket is already known under
 * another fd: user space counts the fds of each process). Returns the stored entry. */
static __always_inline struct l7_conn *track(__u64 pid_tgid, int fd, struct sock *sk, __u8 role, __u64 now)
{
    struct l7_conn_key key = { .tgid = pid_tgid >> 32, .fd = fd };
    struct l7_open_event open = {};
    struct l7_conn conn = {};

    read_addresses(sk, &open.local, &open.remote);
    conn.conn_id = socket_conn_id(sk);
    conn.role = role;
    conn.remote_port = open.remote.port;
    conn.local_port = open.local.port;
    conn.state = L7_CONN_TRACED;
    if (port_selection && !port_selected(open.local.port) && !port_selected(open.remote.port))
        conn.state = L7_CONN_UNSELECTED;
    if (role != L7_ROLE_CLIENT && peer_on_this_host(&open.local, &open.remote)) {
        struct self_port_pair peer = { .local = open.remote.port, .remote = open.local.port };
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
    struct self_port_pair peer = { .local = conn->remote_port, .remote = conn->local_port };
    conn->self_check_pending = 0;
    if (bpf_map_lookup_elem(&self_ports, &peer)) {
        conn->state = L7_CONN_IGNORED;
        conn->flags |= L7_CONN_FLAG_SELF;
    }
}

/* The connection whose bytes a call moved, if they are to be sent: `conn`
 * as found in `conns`, else the fd's TCP socket (`sk` when already found)
 * tracked now — a socket that predates the tracer, or whose entry was
 * evicted. NULL for anything else, counted. */
static __always_inline struct l7_conn *traced_conn(struct task_struct *task, __u64 pid_tgid, int fd,
                                                   struct l7_conn *conn, struct sock *sk)
{
    if (!conn) {
        if (!sk)
            sk = tcp_sock_of_fd(task, fd);
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

#endif
