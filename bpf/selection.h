/* Which processes are traced: the --pid/--service verdicts, cached per thread. */
#ifndef L7_SELECTION_H
#define L7_SELECTION_H

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
    struct thread_state *t = this_thread(task, false);
    /* Read before `proc_verdict`: a change made after this read moves it. */
    __u64 decided_at = verdict_changes + 1;
    barrier();
    if (t && t->selection_at == decided_at)
        return t->selected ? t : NULL;
    bool selected = process_selected(tgid);
    if (selected && !t)
        t = this_thread(task, true);
    if (t) {
        t->selected = selected;
        t->selection_at = decided_at;
    }
    return selected ? t : NULL;
}

/* Saves a connect's or accept's arguments for its exit. */
static __always_inline void stash_call(const struct call_args *call)
{
    struct thread_state *t = this_thread(current_task(), true);
    if (!t)
        return;
    t->call = *call;
    t->call.pending = 1;
}

/* The arguments the entry of this thread's current syscall stashed, once. */
static __always_inline bool take_call(struct task_struct *task, struct call_args *out)
{
    struct thread_state *t = this_thread(task, false);
    if (!t || !t->call.pending)
        return false;
    *out = t->call;
    t->call.pending = 0;
    return true;
}

#endif
