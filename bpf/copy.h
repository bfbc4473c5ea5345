/* The copy engine: what a data call moved, into records. A record carries at
 * most `capture_bytes` of a call; calls of HTTP/2 connections are copied
 * whole, in chunks, up to L7_MAX_CHUNKED_CALL_BYTES. */
#ifndef L7_COPY_H
#define L7_COPY_H

/* n, at most `max`, checked in the register that goes to the helper. The
 * compiler can neither drop this check nor reload an unchecked copy of n
 * from the stack, which the 5.10 and 6.1 verifiers reject ("R2 min value is
 * negative": they lose the bounds of a spilled scalar). */
#define BOUNDED(n, max)                                                                       \
    ({                                                                                        \
        __u64 __n = (n);                                                                      \
        asm volatile("if %[v] <= %[m] goto +1; %[v] = %[m]" : [v] "+r"(__n) : [m] "i"(max)); \
        __n;                                                                                  \
    })

/* Copies what fits below `limit` of one buffer after the `*copied` bytes
 * already in the scratch data. False when it cannot be read: the copy stops
 * there. */
static __always_inline bool copy_iovec(struct scratch *s, const struct iovec *iov, __u64 limit, __u64 *copied)
{
    __u64 off = *copied;
    if (off >= L7_MAX_CAPTURE_BYTES || off >= limit)
        return false;
    __u64 n = iov->iov_len;
    if (n > limit - off)
        n = limit - off;
    off = BOUNDED(off, L7_MAX_CAPTURE_BYTES);
    n = BOUNDED(n, L7_MAX_CAPTURE_BYTES);
    if (bpf_probe_read_user(s->data + off, n, iov->iov_base))
        return false;
    *copied = off + n;
    return true;
}

/* One iovec (after the first two) of the call in the scratch's iovec_copy.
 * A global function: the verifier checks it once, not once per step of the
 * loop that calls it (bpf_loop, which 5.10 lacks, did that before). Non-zero
 * ends the loop. */
__noinline int copy_nth_iovec(__u32 index)
{
    struct scratch *s = scratch_here();
    if (!s)
        return 1;
    struct iovec_copy *c = &s->iovec_copy;
    if (c->copied >= c->limit)
        return 1;
    struct iovec iov;
    if (bpf_probe_read_user(&iov, sizeof(iov), &c->iovs[index]))
        return 1;
    return !copy_iovec(s, &iov, c->limit, &c->copied);
}

/* Copies up to `limit` bytes spread over the first L7_MAX_IOVECS iovecs into
 * the scratch data. Most vectored calls have one or two buffers (a
 * response's head and body): those are read with one probe and copied
 * without a loop. */
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
    struct iovec_copy *c = &s->iovec_copy;
    c->iovs = iovs + 2;
    c->limit = limit;
    c->copied = copied;
    for (__u32 i = 0; i < L7_MAX_IOVECS - 2; i++) {
        if (i >= count - 2 || copy_nth_iovec(i))
            break;
    }
    return c->copied;
}

/* Sends the chunk in the scratch (possibly empty, to end the call). */
static __always_inline void emit_chunk(struct scratch *s, struct chunk_walk *w, bool more)
{
    __u64 fill = w->fill;
    if (fill > L7_MAX_CAPTURE_BYTES)
        return;
    fill = BOUNDED(fill, L7_MAX_CAPTURE_BYTES);
    s->event.captured = fill;
    s->event.offset = w->chunk_offset;
    s->event.chunk_flags = more ? L7_CHUNK_MORE : 0;
    emit(&s->event, sizeof(struct l7_data_event) + fill, more ? 0 : w->returned);
    w->copied += fill;
    w->chunk_offset += fill;
    w->fill = 0;
}

/* One step of the chunk walk: take the next iovec, or copy what fits of the
 * current buffer into the chunk; send the chunk when it is full or the call
 * is done. A piece that cannot be read ends the copy (the rest is a hole).
 * One place sends, so that the verifier has few paths to follow. A global
 * function, like copy_nth_iovec. Non-zero ends the walk. */
__noinline int chunk_step(__u32 index)
{
    struct scratch *s = scratch_here();
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
        if (fill >= L7_MAX_CAPTURE_BYTES)
            return 1;
        __u64 n = L7_MAX_CAPTURE_BYTES - fill;
        if (n > w->left)
            n = w->left;
        if (n > w->total - w->done)
            n = w->total - w->done;
        fill = BOUNDED(fill, L7_MAX_CAPTURE_BYTES);
        n = BOUNDED(n, L7_MAX_CAPTURE_BYTES);
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

/* At most one step per chunk, per iovec and per unreadable piece. */
#define CHUNK_STEPS (L7_MAX_CHUNKED_CALL_BYTES / L7_MAX_CAPTURE_BYTES + 2 * L7_MAX_CHUNKED_IOVECS + 2)

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
    for (__u32 i = 0; i < CHUNK_STEPS; i++) {
        if (chunk_step(i))
            break;
    }
    return w->copied;
}

/* Bytes copied from the end of a call longer than the capture, as a second
 * chunk: the end of a chunked body (its last chunk) often lies there, so
 * that a body whose middle was not copied still shows where it ends. */
#define L7_TAIL_BYTES 256

/* One iovec of the call in the scratch's tail_copy: copies its part of the
 * tail. A global function, like copy_nth_iovec. Non-zero ends the loop. */
__noinline int tail_nth_iovec(__u32 index)
{
    struct scratch *s = scratch_here();
    if (!s)
        return 1;
    struct tail_copy *t = &s->tail_copy;
    struct iovec iov;
    if (t->position >= t->end || bpf_probe_read_user(&iov, sizeof(iov), &t->iovs[index]))
        return 1;
    __u64 at = t->position;
    __u64 from = at, to = at + iov.iov_len;
    t->position = to;
    if (to <= t->start)
        return 0;
    if (to > t->end)
        to = t->end;
    if (from < t->start)
        from = t->start;
    /* Pieces are copied in order: one that cannot be read ends the copy. */
    if (from != t->start + t->filled || t->filled >= L7_TAIL_BYTES || to - from > L7_TAIL_BYTES)
        return 1;
    __u64 dst = BOUNDED(t->filled, L7_TAIL_BYTES);
    __u64 n = BOUNDED(to - from, L7_TAIL_BYTES);
    if (bpf_probe_read_user(s->data + dst, n, (const void *)((__u64)iov.iov_base + (from - at))))
        return 1;
    t->filled = dst + n;
    return 0;
}

/* Copies bytes [start, end) of the call (at most L7_TAIL_BYTES) into the
 * scratch data; returns how many, from start, could be read. */
static __always_inline __u64 copy_tail(struct scratch *s, struct call_args *call, __u64 start, __u64 end)
{
    if (call->op == OP_BUFFER) {
        __u64 n = BOUNDED(end - start, L7_TAIL_BYTES);
        return bpf_probe_read_user(s->data, n, (const void *)(call->buf + start)) ? 0 : n;
    }
    if (call->op != OP_IOVEC)
        return 0;
    struct tail_copy *t = &s->tail_copy;
    t->iovs = (const struct iovec *)call->buf;
    t->position = 0;
    t->start = start;
    t->end = end;
    t->filled = 0;
    for (__u32 i = 0; i < L7_MAX_IOVECS; i++) {
        if (i >= call->count || tail_nth_iovec(i))
            break;
    }
    return t->filled;
}

/* "PRI * HT", the start of the client preface, as a little-endian word. */
#define HTTP2_PREFACE_START 0x5448202a20495250ULL

/* Sends what the call moved. Returns whether its bytes begin with the HTTP/2
 * client preface (the caller flags the connection). */
static __always_inline bool emit_data(struct call_args *call, __u64 pid_tgid, __u64 conn_id, __u8 conn_flags,
                                      __u64 returned, __u64 now, __u8 source)
{
    struct scratch *s = scratch_here();
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
            __u64 n = BOUNDED(limit, L7_MAX_CAPTURE_BYTES);
            if (bpf_probe_read_user(s->data, n, (const void *)call->buf) == 0)
                captured = n;
        } else if (call->op == OP_IOVEC) {
            captured = copy_iovecs(s, (const struct iovec *)call->buf, call->count, limit);
        }
        e->captured = captured;
        preface = captured >= 8 && *(__u64 *)s->data == HTTP2_PREFACE_START;
        if (captured > L7_MAX_CAPTURE_BYTES)
            return preface;
        /* A call longer than the capture: its last bytes follow as a second chunk. */
        bool tail = captured == limit && returned > captured && call->op != OP_NOCOPY;
        e->chunk_flags = tail ? L7_CHUNK_MORE : 0;
        __u64 size = sizeof(struct l7_data_event) + BOUNDED(captured, L7_MAX_CAPTURE_BYTES);
        emit(e, size, tail ? 0 : returned);
        if (tail) {
            __u64 start = returned - captured > L7_TAIL_BYTES ? returned - L7_TAIL_BYTES : captured;
            __u64 n = copy_tail(s, call, start, returned);
            e->offset = start;
            e->captured = n;
            e->chunk_flags = 0;
            emit(e, sizeof(struct l7_data_event) + BOUNDED(n, L7_TAIL_BYTES), returned);
            captured += n;
        }
    }

    struct l7_counters *c = counters_here();
    if (c && returned > captured)
        c->uncaptured_bytes += returned - captured;
    return preface;
}

#endif
