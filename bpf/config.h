/* What user space sets before load, and the few globals the programs share. */
#ifndef L7_CONFIG_H
#define L7_CONFIG_H

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
#define MSG_PEEK 2

/* Set by user space before load (frozen in .rodata, so the verifier sees
 * constants and follows only the branches they select). */
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

/* What the running kernel has, probed by user space (see compat.h). */
const volatile bool has_task_storage = true;  /* task storage maps and helpers: 5.11 */
const volatile bool has_task_btf = true;      /* bpf_get_current_task_btf: 5.11 */
const volatile bool has_task_pt_regs = true;  /* bpf_task_pt_regs: 5.15 */

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

/* Which tgids may have an entry in `proc_verdict`: one byte per tgid modulo
 * L7_VERDICT_SLOTS, set to 1 (by user space through the mmapped .bss, or by
 * on_fork) before an entry is added, never cleared. Most syscalls on a host
 * come from processes with no entry, and this spares them the hash lookup.
 * Bytes, not bits: a byte is set by a plain store, where a bit needs an
 * atomic or, which 5.10 lacks (and rejects even in code it never runs). */
__u8 verdict_marks[L7_VERDICT_SLOTS];

#endif
