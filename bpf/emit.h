/* Records into the ring buffer, and the counters of what happened to them. */
#ifndef L7_EMIT_H
#define L7_EMIT_H

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
    struct cpu_state *w = urgent ? NULL : cpu_state_here();

    if (w && (w->unchecked_bytes += size) >= wakeup_check_bytes) {
        w->unchecked_bytes = 0;
        if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= wakeup_bytes) {
            __u64 now = bpf_ktime_get_ns();
            if (now - w->last_wakeup_ns >= wakeup_interval_ns) {
                w->last_wakeup_ns = now;
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

static __always_inline void count_ciphertext(void)
{
    struct l7_counters *c = counters_here();
    if (c)
        c->ciphertext_calls++;
}

#endif
