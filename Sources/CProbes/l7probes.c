/*
 * Loader for bpf/l7trace.bpf.c: opens the skeleton (the BPF object is
 * embedded in it), sizes and configures it from l7_probes_config, loads,
 * attaches each program and drains the ring buffer for Swift.
 */
#include "l7probes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "generated/l7trace.skel.h"

#define L7_MAX_LINKS 64
/* The ring fill at which the kernel wakes the reader (see l7_probes_open). */
#define L7_WAKEUP_BYTES (256u << 10)
/* Records handed over per poll at most, so that a flood cannot keep the
 * caller inside one poll forever (it checks for shutdown between polls). */
#define L7_POLL_BUDGET 65536

struct l7_probes {
    struct l7trace *skel;
    struct ring_buffer *ring;
    int epoll_fd;
    struct bpf_link *links[L7_MAX_LINKS];
    int link_count;
    int cpu_count;
    /* The handler of the poll in progress (ring_buffer's context is fixed). */
    l7_record_fn fn;
    void *fn_context;
    int delivered;
    /* The last poll stopped at its budget: records are waiting. */
    int backlog;
    /* enum l7_kernel_feature bits whose fallbacks are in use. */
    uint32_t fallbacks;
    /* Uprobe links, one pair per OpenSSL function per attached file. */
    struct bpf_link **ssl_links;
    int ssl_link_count;
    int ssl_link_capacity;
};

/* libbpf reports through one global callback; we keep its last words so an
 * error can name the program, and echo everything only when asked. */
static struct {
    int verbose;
    char last[256];
    char program[64];
    char map[64];
} libbpf_log;

/* Copies the quoted name after `tag` in `line` ("prog 'x'", "map 'y'"). */
static void keep_quoted(const char *line, const char *tag, char *out, size_t size)
{
    const char *start = strstr(line, tag);
    if (!start || out[0])
        return;
    start += strlen(tag);
    size_t n = strcspn(start, "'");
    if (n >= size)
        n = size - 1;
    memcpy(out, start, n);
    out[n] = 0;
}

static int on_libbpf_print(enum libbpf_print_level level, const char *format, va_list args)
{
    char line[1024];
    va_list copy;
    va_copy(copy, args);
    vsnprintf(line, sizeof(line), format, copy);
    va_end(copy);

    if (libbpf_log.verbose)
        vfprintf(stderr, format, args); /* whole: the verifier log is one message */
    if (level == LIBBPF_DEBUG || libbpf_log.program[0] || libbpf_log.map[0])
        return 0;
    /* The first "prog 'x': ... failed" or "map 'y': failed to create" names
     * the culprit; keep that line. */
    if (strstr(line, "fail")) {
        keep_quoted(line, "prog '", libbpf_log.program, sizeof(libbpf_log.program));
        keep_quoted(line, "map '", libbpf_log.map, sizeof(libbpf_log.map));
    }
    size_t n = strcspn(line, "\n");
    if (n >= sizeof(libbpf_log.last))
        n = sizeof(libbpf_log.last) - 1;
    memcpy(libbpf_log.last, line, n);
    libbpf_log.last[n] = 0;
    return 0;
}

static int fail(struct l7_probes_error *error, const char *stage, int err, const char *program)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        err = EINVAL;
    if (error) {
        memset(error, 0, sizeof(*error));
        error->err = err;
        snprintf(error->stage, sizeof(error->stage), "%s", stage);
        snprintf(error->program, sizeof(error->program), "%s", program ? program : libbpf_log.program);
        snprintf(error->map, sizeof(error->map), "%s", program ? "" : libbpf_log.map);
        snprintf(error->message, sizeof(error->message), "%s", libbpf_log.last);
    }
    return -err;
}

static uint32_t ring_size(uint32_t requested)
{
    uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
    uint32_t size = page;
    if (requested > (1u << 30))
        requested = 1u << 30;
    while (size < requested)
        size <<= 1;
    return size;
}

static int on_record(void *context, void *data, size_t size)
{
    struct l7_probes *p = context;
    p->fn(p->fn_context, data, size);
    /* A negative return stops libbpf after this record (which is consumed). */
    return ++p->delivered >= L7_POLL_BUDGET ? -EAGAIN : 0;
}

/* Tells the kernel that tgid may have a verdict (before it is written). */
static void note_verdict(struct l7_probes *p, uint32_t tgid)
{
    __atomic_store_n(&p->skel->bss->verdict_marks[tgid % L7_VERDICT_SLOTS], 1, __ATOMIC_SEQ_CST);
}

static int fill_maps(struct l7_probes *p, const struct l7_probes_config *config)
{
    uint8_t one = 1;
    for (uint32_t i = 0; i < config->port_count; i++) {
        uint16_t port = config->ports[i];
        if (bpf_map__update_elem(p->skel->maps.ports, &port, sizeof(port), &one, sizeof(one), BPF_ANY))
            return -errno;
    }
    uint8_t pinned = L7_VERDICT_TRACE | L7_VERDICT_PINNED;
    for (uint32_t i = 0; i < config->pid_count; i++) {
        uint32_t tgid = config->pids[i];
        note_verdict(p, tgid);
        if (bpf_map__update_elem(p->skel->maps.proc_verdict, &tgid, sizeof(tgid), &pinned, sizeof(pinned), BPF_ANY))
            return -errno;
    }
    return 0;
}

static bool helper_available(enum bpf_func_id helper)
{
    return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, helper, NULL) > 0;
}

/* The enum l7_kernel_feature bits this kernel lacks. */
static uint32_t missing_features(void)
{
    uint32_t missing = 0;
    if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) <= 0 || !helper_available(BPF_FUNC_task_storage_get))
        missing |= L7_FEATURE_TASK_STORAGE;
    if (!helper_available(BPF_FUNC_get_current_task_btf))
        missing |= L7_FEATURE_TASK_BTF;
    if (!helper_available(BPF_FUNC_task_pt_regs))
        missing |= L7_FEATURE_TASK_PT_REGS;
    return missing;
}

/* L7TRACE_KERNEL_FALLBACKS: "all", or feature names separated by commas. */
static uint32_t fallbacks_from_environment(void)
{
    const char *env = getenv("L7TRACE_KERNEL_FALLBACKS");
    if (!env || !*env)
        return 0;
    if (strcmp(env, "all") == 0)
        return L7_ALL_FEATURES;
    uint32_t bits = 0;
    if (strstr(env, "task-storage"))
        bits |= L7_FEATURE_TASK_STORAGE;
    if (strstr(env, "task-btf"))
        bits |= L7_FEATURE_TASK_BTF;
    if (strstr(env, "task-pt-regs"))
        bits |= L7_FEATURE_TASK_PT_REGS;
    return bits;
}

/* Sets the kernel's feature constants and the programs and maps each
 * fallback needs (see bpf/compat.h). */
static int configure_fallbacks(struct l7_probes *p, uint32_t fallbacks)
{
    struct l7trace *skel = p->skel;
    skel->rodata->has_task_storage = !(fallbacks & L7_FEATURE_TASK_STORAGE);
    skel->rodata->has_task_btf = !(fallbacks & L7_FEATURE_TASK_BTF);
    skel->rodata->has_task_pt_regs = !(fallbacks & L7_FEATURE_TASK_PT_REGS);

    bool save_reads = fallbacks & L7_FEATURE_TASK_PT_REGS;
    struct bpf_program *read_entries[] = {
        skel->progs.enter_read, skel->progs.enter_readv, skel->progs.enter_recvfrom, skel->progs.enter_recvmsg,
    };
    for (size_t i = 0; i < sizeof(read_entries) / sizeof(read_entries[0]); i++) {
        int err = bpf_program__set_autoload(read_entries[i], save_reads);
        if (err)
            return err;
    }
    /* The programs still name both thread maps (one in code the verifier
     * skips): the one not used is made as small as the kernel allows. */
    if (fallbacks & L7_FEATURE_TASK_STORAGE) {
        int err = bpf_map__set_type(skel->maps.threads, BPF_MAP_TYPE_HASH);
        if (!err)
            err = bpf_map__set_max_entries(skel->maps.threads, 1);
        return err;
    }
    return bpf_map__set_max_entries(skel->maps.thread_states, 1);
}

uint32_t l7_probes_fallbacks(const struct l7_probes *p)
{
    return p->fallbacks;
}

int l7_probes_open(const struct l7_probes_config *config, struct l7_probes **out,
                   struct l7_probes_error *error)
{
    const char *env = getenv("L7TRACE_VERIFIER_LOG");
    libbpf_log.verbose = config->verbose || (env && *env && strcmp(env, "0") != 0);
    libbpf_log.last[0] = 0;
    libbpf_log.program[0] = 0;
    libbpf_log.map[0] = 0;
    libbpf_set_print(on_libbpf_print);
    *out = NULL;

    /* The one feature with no fallback: the ring buffer (5.8). */
    if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0) {
        snprintf(libbpf_log.map, sizeof(libbpf_log.map), "events");
        snprintf(libbpf_log.last, sizeof(libbpf_log.last), "this kernel has no BPF ring buffer (Linux 5.8 or later)");
        return fail(error, "kernel", EOPNOTSUPP, NULL);
    }

    struct l7_probes *p = calloc(1, sizeof(*p));
    if (!p)
        return fail(error, "open", ENOMEM, "");
    p->epoll_fd = -1;
    p->cpu_count = libbpf_num_possible_cpus();
    if (p->cpu_count <= 0) {
        int err = p->cpu_count;
        free(p);
        return fail(error, "open", err, "");
    }

    p->skel = l7trace__open();
    if (!p->skel) {
        int err = errno;
        free(p);
        return fail(error, "open", err, "");
    }

    uint32_t capture = config->capture_bytes;
    if (capture == 0)
        capture = L7_DEFAULT_CAPTURE_BYTES;
    if (capture > L7_MAX_CAPTURE_BYTES)
        capture = L7_MAX_CAPTURE_BYTES;
    uint32_t ring = ring_size(config->ring_bytes ? config->ring_bytes : (8u << 20));

    p->fallbacks = missing_features() | (config->force_fallbacks & L7_ALL_FEATURES) | fallbacks_from_environment();
    int fallback_err = configure_fallbacks(p, p->fallbacks);
    if (fallback_err) {
        l7_probes_destroy(p);
        return fail(error, "open", fallback_err, "");
    }

    p->skel->rodata->self_tgid = config->self_tgid;
    p->skel->rodata->process_mode = config->process_mode;
    p->skel->rodata->capture_bytes = capture;
    p->skel->rodata->port_selection = config->port_count > 0;
    /* 256 KiB (~600 HTTP/1.1 exchanges), or a quarter of a smaller ring.
     * A larger mark means fewer wake-ups but bursts of spans larger than the
     * export queue (2,048 by default), which overflowed it at saturation
     * before the export thread could run; the ring stays large for HTTP/2's
     * whole-call copies and for the tracer's stalls. */
    uint64_t mark = ring / 4 < L7_WAKEUP_BYTES ? ring / 4 : L7_WAKEUP_BYTES;
    p->skel->rodata->wakeup_bytes = mark;
    /* Every CPU may write this much before looking: an eighth of the mark in all. */
    uint64_t check = mark / 8 / (uint32_t)p->cpu_count;
    p->skel->rodata->wakeup_check_bytes = check ? check : 1;

    int err = bpf_map__set_max_entries(p->skel->maps.events, ring);
    if (!err)
        err = bpf_map__set_max_entries(p->skel->maps.scratch, (uint32_t)p->cpu_count);
    if (err) {
        l7_probes_destroy(p);
        return fail(error, "open", err, "");
    }

    err = l7trace__load(p->skel);
    if (err) {
        l7_probes_destroy(p);
        return fail(error, "load", err, NULL);
    }
    err = fill_maps(p, config);
    if (err) {
        l7_probes_destroy(p);
        return fail(error, "maps", err, "");
    }

    p->ring = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_record, p, NULL);
    if (!p->ring) {
        err = errno;
        l7_probes_destroy(p);
        return fail(error, "maps", err, "");
    }
    p->epoll_fd = ring_buffer__epoll_fd(p->ring);
    *out = p;
    return 0;
}

int l7_probes_attach(struct l7_probes *p, struct l7_probes_error *error)
{
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, p->skel->obj) {
        /* Uprobes are attached per library file, by l7_probes_attach_ssl. */
        if (bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE || !bpf_program__autoload(prog))
            continue;
        if (p->link_count >= L7_MAX_LINKS)
            return fail(error, "attach", E2BIG, bpf_program__name(prog));
        struct bpf_link *link = bpf_program__attach(prog);
        if (!link)
            return fail(error, "attach", errno, bpf_program__name(prog));
        p->links[p->link_count++] = link;
    }
    return 0;
}

static int keep_ssl_link(struct l7_probes *p, struct bpf_link *link)
{
    if (p->ssl_link_count == p->ssl_link_capacity) {
        int capacity = p->ssl_link_capacity ? p->ssl_link_capacity * 2 : 16;
        struct bpf_link **links = realloc(p->ssl_links, sizeof(*links) * (size_t)capacity);
        if (!links)
            return -ENOMEM;
        p->ssl_links = links;
        p->ssl_link_capacity = capacity;
    }
    p->ssl_links[p->ssl_link_count++] = link;
    return 0;
}

/* Entry and return probe of one function; both or neither. */
static int attach_ssl_function(struct l7_probes *p, const char *path, const char *function,
                               struct bpf_program *enter, struct bpf_program *exit)
{
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = function, .retprobe = false);
    struct bpf_link *entry = bpf_program__attach_uprobe_opts(enter, -1, path, 0, &opts);
    if (!entry)
        return -errno;
    LIBBPF_OPTS(bpf_uprobe_opts, ret_opts, .func_name = function, .retprobe = true);
    struct bpf_link *ret = bpf_program__attach_uprobe_opts(exit, -1, path, 0, &ret_opts);
    if (!ret) {
        int err = -errno;
        bpf_link__destroy(entry);
        return err;
    }
    int err = keep_ssl_link(p, entry);
    if (!err)
        err = keep_ssl_link(p, ret);
    if (err) {
        bpf_link__destroy(ret);
        return err;
    }
    return 0;
}

int l7_probes_attach_ssl(struct l7_probes *p, const char *path)
{
    struct {
        const char *name;
        struct bpf_program *enter;
        struct bpf_program *exit;
        int bit;
    } functions[] = {
        { "SSL_read", p->skel->progs.ssl_read_enter, p->skel->progs.ssl_exit, L7_SSL_READ },
        { "SSL_write", p->skel->progs.ssl_write_enter, p->skel->progs.ssl_exit, L7_SSL_WRITE },
        { "SSL_read_ex", p->skel->progs.ssl_read_ex_enter, p->skel->progs.ssl_exit, L7_SSL_READ_EX },
        { "SSL_write_ex", p->skel->progs.ssl_write_ex_enter, p->skel->progs.ssl_exit, L7_SSL_WRITE_EX },
        { "SSL_do_handshake", p->skel->progs.ssl_handshake_enter, p->skel->progs.ssl_handshake_exit,
          L7_SSL_DO_HANDSHAKE },
    };
    int attached = 0, first_error = 0;
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
        int err = attach_ssl_function(p, path, functions[i].name, functions[i].enter, functions[i].exit);
        if (err == 0)
            attached |= functions[i].bit;
        else if (!first_error)
            first_error = err;
    }
    if (attached)
        return attached;
    return first_error ? first_error : -ENOENT;
}

int l7_probes_poll(struct l7_probes *p, int timeout_ms, l7_record_fn fn, void *context)
{
    struct epoll_event ready;
    /* The kernel rarely wakes us (see emit() in the BPF program), so the
     * timeout is what bounds latency; then drain whatever is there. */
    if (epoll_wait(p->epoll_fd, &ready, 1, p->backlog ? 0 : timeout_ms) < 0 && errno != EINTR)
        return -errno;
    p->fn = fn;
    p->fn_context = context;
    p->delivered = 0;
    int err = ring_buffer__consume(p->ring);
    p->fn = NULL;
    p->fn_context = NULL;
    p->backlog = err == -EAGAIN;
    if (err < 0 && err != -EAGAIN)
        return err;
    return p->delivered;
}

int l7_probes_set_process_verdict(struct l7_probes *p, uint32_t tgid, uint8_t verdict)
{
    struct bpf_map *map = p->skel->maps.proc_verdict;
    if (verdict)
        note_verdict(p, tgid);
    int err = verdict ? bpf_map__update_elem(map, &tgid, sizeof(tgid), &verdict, sizeof(verdict), BPF_ANY)
                      : bpf_map__delete_elem(map, &tgid, sizeof(tgid), 0);
    /* Threads that kept their process's selection decide again. */
    __atomic_fetch_add(&p->skel->bss->verdict_changes, 1, __ATOMIC_SEQ_CST);
    if (err && !verdict && errno == ENOENT)
        return 0;
    return err ? -errno : 0;
}

/* Reads the kernel's entry for (tgid, fd) if it still is connection
 * `conn_id` (the fd may have been closed and reused since). */
static int load_conn(struct l7_probes *p, uint32_t tgid, int32_t fd, uint64_t conn_id,
                     struct l7_conn_key *key, struct l7_conn *conn)
{
    *key = (struct l7_conn_key){ .tgid = tgid, .fd = fd };
    if (bpf_map__lookup_elem(p->skel->maps.conns, key, sizeof(*key), conn, sizeof(*conn), 0))
        return -errno;
    return conn->conn_id == conn_id ? 0 : -ENOENT;
}

/* Writes the entry back, then tells the exits of syscalls in flight to look
 * again (see conn_changes in the BPF program). */
static int store_conn(struct l7_probes *p, const struct l7_conn_key *key, const struct l7_conn *conn)
{
    if (bpf_map__update_elem(p->skel->maps.conns, key, sizeof(*key), conn, sizeof(*conn), BPF_EXIST))
        return -errno;
    __atomic_fetch_add(&p->skel->bss->conn_changes, 1, __ATOMIC_SEQ_CST);
    return 0;
}

int l7_probes_ignore_connection(struct l7_probes *p, uint32_t tgid, int32_t fd, uint64_t conn_id)
{
    struct l7_conn_key key;
    struct l7_conn conn;
    int err = load_conn(p, tgid, fd, conn_id, &key, &conn);
    if (err)
        return err;
    if (conn.state != L7_CONN_TRACED)
        return 0;
    conn.state = L7_CONN_IGNORED;
    conn.self_check_pending = 0;
    return store_conn(p, &key, &conn);
}

int l7_probes_mark_http2(struct l7_probes *p, uint32_t tgid, int32_t fd, uint64_t conn_id)
{
    struct l7_conn_key key;
    struct l7_conn conn;
    int err = load_conn(p, tgid, fd, conn_id, &key, &conn);
    if (err)
        return err;
    if (conn.flags & L7_CONN_FLAG_HTTP2)
        return 0;
    /* The kernel may change the entry meanwhile; what it could set by then
     * (the TLS flag) it sets again on every call. */
    conn.flags |= L7_CONN_FLAG_HTTP2;
    return store_conn(p, &key, &conn);
}

int l7_probes_read_counters(struct l7_probes *p, struct l7_counters *out)
{
    memset(out, 0, sizeof(*out));
    struct l7_counters *per_cpu = calloc((size_t)p->cpu_count, sizeof(*per_cpu));
    if (!per_cpu)
        return -ENOMEM;
    uint32_t zero = 0;
    int err = bpf_map__lookup_elem(p->skel->maps.counters, &zero, sizeof(zero), per_cpu,
                                   sizeof(*per_cpu) * (size_t)p->cpu_count, 0);
    if (err) {
        err = -errno;
        free(per_cpu);
        return err;
    }
    for (int i = 0; i < p->cpu_count; i++) {
        out->events += per_cpu[i].events;
        out->lost_events += per_cpu[i].lost_events;
        out->lost_bytes += per_cpu[i].lost_bytes;
        out->uncaptured_bytes += per_cpu[i].uncaptured_bytes;
        out->filtered_events += per_cpu[i].filtered_events;
        out->wakeups += per_cpu[i].wakeups;
        out->ssl_events += per_cpu[i].ssl_events;
        out->ssl_unattributed += per_cpu[i].ssl_unattributed;
        out->ciphertext_calls += per_cpu[i].ciphertext_calls;
        out->thread_states_full += per_cpu[i].thread_states_full;
    }
    free(per_cpu);
    return 0;
}

void l7_probes_destroy(struct l7_probes *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->link_count; i++)
        bpf_link__destroy(p->links[i]);
    for (int i = 0; i < p->ssl_link_count; i++)
        bpf_link__destroy(p->ssl_links[i]);
    free(p->ssl_links);
    ring_buffer__free(p->ring);
    l7trace__destroy(p->skel);
    free(p);
}
