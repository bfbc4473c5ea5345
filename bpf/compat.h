/*
 * Every difference between the kernels l7trace runs on, in one place. User
 * space probes the kernel and sets the has_* constants (config.h) before
 * load; the verifier sees them as constants and never looks at the branch a
 * kernel cannot run, so one object loads everywhere from 5.10 on:
 *
 *   feature (since)                 fallback
 *   task storage (5.11)             `thread_states`, a hash by thread id,
 *                                   cleaned when the thread exits
 *   bpf_get_current_task_btf (5.11) bpf_get_current_task and CO-RE reads
 *   bpf_task_pt_regs (5.15)         reads' arguments saved at sys_enter
 *                                   (the enter_read* programs, loaded only then)
 *
 * Loops are bounded loops over global functions on every kernel (bpf_loop
 * needs 5.17); their caps are L7_MAX_IOVECS and the chunk walk's.
 */
#ifndef L7_COMPAT_H
#define L7_COMPAT_H

/* The current task: a BTF pointer whose fields are plain loads, or, before
 * 5.11, an untyped one read with probes (task_* below). */
static __always_inline struct task_struct *current_task(void)
{
    if (has_task_btf)
        return bpf_get_current_task_btf();
    return (struct task_struct *)bpf_get_current_task();
}

/* What bpf_get_current_pid_tgid() returns, read from the task instead: every
 * helper call costs tens of ns on these machines (each return goes through
 * the CPU's return-thunk mitigation), so the hot paths make as few as they
 * can. */
static __always_inline __u64 task_pid_tgid(struct task_struct *task)
{
    if (has_task_btf)
        return (__u64)task->tgid << 32 | (__u32)task->pid;
    return bpf_get_current_pid_tgid();
}

static __always_inline __u32 task_tgid(struct task_struct *task)
{
    if (has_task_btf)
        return task->tgid;
    return bpf_get_current_pid_tgid() >> 32;
}

/* The file behind fd in the current task, or NULL. Loads through the task's
 * BTF pointer need no helper call: this runs for every call of a traced
 * process on an fd not yet known (all its file and pipe I/O). */
static __always_inline struct file *task_file(struct task_struct *task, int fd)
{
    struct file **fds;
    unsigned int max_fds;
    if (has_task_btf) {
        struct fdtable *fdt = task->files->fdt;
        if (!fdt)
            return NULL;
        max_fds = fdt->max_fds;
        fds = fdt->fd;
    } else {
        struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
        if (!fdt)
            return NULL;
        max_fds = BPF_CORE_READ(fdt, max_fds);
        fds = BPF_CORE_READ(fdt, fd);
    }
    if ((unsigned int)fd >= max_fds)
        return NULL;
    struct file *file = NULL;
    bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
    return file;
}

static __always_inline void count_thread_states_full(void)
{
    struct l7_counters *c = counters_here();
    if (c)
        c->thread_states_full++;
}

/* The current thread's state; created when `create` (else NULL if none). */
static __always_inline struct thread_state *this_thread(struct task_struct *task, bool create)
{
    if (has_task_storage) {
        /* Most threads of the host never had any task storage: no lookup. */
        if (!create && has_task_btf && !task->bpf_storage)
            return NULL;
        return bpf_task_storage_get(&threads, task, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
    }
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct thread_state *t = bpf_map_lookup_elem(&thread_states, &tid);
    if (t || !create)
        return t;
    struct thread_state fresh = {};
    /* Only this thread makes its entry: a failure means the map is full. */
    if (bpf_map_update_elem(&thread_states, &tid, &fresh, BPF_NOEXIST)) {
        count_thread_states_full();
        return NULL;
    }
    return bpf_map_lookup_elem(&thread_states, &tid);
}

/* At a thread's exit: task storage goes with the task; the hash entry is ours. */
static __always_inline void forget_thread(__u32 tid)
{
    if (!has_task_storage)
        bpf_map_delete_elem(&thread_states, &tid);
}

/* A read's arguments, as its exit sees them. */
struct read_args {
    __u64 buf;
    __u64 count;
    __u64 flags;
    int fd;
};

/* Which argument of each read holds what (fd, buffer, count, flags). */
enum read_kind {
    READ_BUFFER,  /* read, recvfrom: fd, buf, len (recvfrom: flags fourth) */
    READ_IOVEC,   /* readv: fd, iov, iovcnt */
    READ_MSG,     /* recvmsg: fd, msghdr, flags */
};

/* Before 5.15 a read's exit cannot see its arguments: its entry saves them
 * (enter_read* programs, loaded only then). Called by those entries. */
static __always_inline void save_read_args(struct thread_state *t, int fd, __u64 buf, __u64 count, __u64 flags)
{
    struct call_args call = {
        .buf = buf, .count = count, .fd = fd, .read_flags = (__u32)flags, .op = OP_READ_ARGS, .pending = 1,
    };
    t->call = call;
}

/* Reads are seen at their exit: since 5.15 their arguments are still in the
 * user registers the kernel saved at entry, read only for traced threads —
 * one program run per read instead of two. */
static __always_inline bool read_args_at_exit(struct task_struct *task, struct thread_state *t, enum read_kind kind,
                                              bool has_flags, struct read_args *out)
{
    if (has_task_pt_regs) {
        struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
        out->fd = PT_REGS_PARM1_SYSCALL(regs);
        out->buf = PT_REGS_PARM2_SYSCALL(regs);
        out->count = PT_REGS_PARM3_SYSCALL(regs);
        out->flags = 0;
        if (has_flags)
            out->flags = kind == READ_MSG ? PT_REGS_PARM3_SYSCALL(regs) : PT_REGS_PARM4_SYSCALL(regs);
        return true;
    }
    if (!t->call.pending || t->call.op != OP_READ_ARGS)
        return false;
    t->call.pending = 0;
    out->fd = t->call.fd;
    out->buf = t->call.buf;
    out->count = t->call.count;
    out->flags = t->call.read_flags;
    return true;
}

/* Whether the file has references other than the fd being closed (another
 * fd, in this process or one that inherited it across fork). The count is
 * `f_count` up to 6.12 and `f_ref` (references - 1) from 6.13. A thread
 * inside a syscall on the same fd also holds one for the call's duration, so
 * a last close may be said shared: user space still ends the connection when
 * no process it knows holds the socket any more. */
struct file___f_count {
    atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline bool file_shared(struct file *file)
{
    if (bpf_core_field_exists(struct file___f_count, f_count)) {
        long count = BPF_CORE_READ((struct file___f_count *)file, f_count.counter);
        return count > 1;
    }
    long refs_minus_one = BPF_CORE_READ(file, f_ref.refcnt.counter);
    return refs_minus_one > 0;
}

/* *counter += 1, atomically, in the one atomic every kernel has (BPF_XADD).
 * clang emits the fetching form (5.12) for __sync_fetch_and_add even when
 * the result is unused, and 5.10 rejects it even in code it never runs;
 * for the same reason no other atomic appears here. */
static __always_inline void atomic_increment(__u64 *counter)
{
    __u64 one = 1;
    asm volatile("lock *(u64 *)(%[p] + 0) += %[v]" : : [p] "r"(counter), [v] "r"(one) : "memory");
}

static __always_inline bool may_have_verdict(__u32 tgid)
{
    return verdict_marks[tgid % L7_VERDICT_SLOTS];
}

static __always_inline void note_verdict(__u32 tgid)
{
    verdict_marks[tgid % L7_VERDICT_SLOTS] = 1;
}

#endif
