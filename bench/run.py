#!/usr/bin/env python3
"""The performance figures of issue 6, measured side by side in one run.

    sudo python3 bench/run.py [--bin .build/release/l7trace] [--quick]

(`make bench` installs what is missing, builds the release binary and runs
this.) It starts one nginx (one worker, `return 200`) on four loopback
ports picked at random — HTTP/1.1, HTTPS, h2c and HTTP/2 over TLS — and
measures:

  1. the tracer's CPU time per request at a fixed request rate (h2load),
     next to the CPU the nginx worker itself spends per request;
  2. nginx's saturated throughput with the tracer selecting it, as a ratio
     of its throughput without the tracer (median of 3 alternating runs);
  3. completeness: spans against completed requests at 5,000 requests/s;
  4. the tracer's memory while 10,000 idle keep-alive connections are open;
  5. the tracer's CPU per gRPC call to a grpcio server (Tests/e2e/servers),
     next to the server's own CPU per call;
  6. what linking costs (issue 15): the tracer selecting both ends (h2load's
     client connections and nginx), with and without `--no-link`, CPU per
     request; the difference is the linker's share (goal: ≤ 0.3 µs).

`--baseline-bin PATH` adds an A/B comparison with another build (issue 14's
"not worse, side by side with the previous build on the same run"): every
tracer-CPU row (1 and 5) and the traced throughput (2) also run that binary,
interleaved with the one under test on the same nginx, load and rates (the
order alternates each repetition: new base, base new, ...), and each gets an
"A/B" row: new / base, the range of the per-repetition ratios, and the noise
(the larger spread, (max - min) / median, of either binary against itself
over the repetitions, or of the paired ratios; `--runs N` sets how many, at
least 2 for a noise figure; "WORSE?" outside it: run again with more). `make bench-ab BASE=<ref> FULL=1` builds the base and runs this.

`--memory-minutes N` runs only the long memory figure instead: 10,000 idle
connections plus steady traffic for N minutes, the tracer's RSS sampled
every 30 s (`make bench-memory` runs it for 10 minutes).

The machine is shared and noisy, so every figure is put next to a baseline
taken in the same run. The tracer runs with `--pid <nginx> --port <port>`:
it sees only the nginx we started (not the load generator's client side,
nor the machine's other traffic), except in figure 6, which selects the
port alone so both ends are traced. It exports as users run it: OTLP/HTTP
protobuf to a local collector stand-in (Tests/e2e/otlp_receiver.py in a
process of its own, whose CPU is not the tracer's); the CPU rows also run
`--exporter none` beside it, the floor, and print the export's share.
Every process this script starts is stopped by its pid.
"""
import argparse
import os
import platform
import re
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTED = []  # every process we started, stopped by pid at exit


# ---------------------------------------------------------------- helpers

sys.path.insert(0, str(ROOT / "scripts"))
from loopback import free_port, wait_for_port  # noqa: E402


def start(args, **kwargs):
    proc = subprocess.Popen(args, **kwargs)
    STARTED.append(proc)
    return proc


def stop(proc, sig=signal.SIGTERM, timeout=30):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in STARTED:
        STARTED.remove(proc)


def cpu_ns(pid):
    """CPU time (user + system) of every live thread of pid, in ns.
    /proc/PID/task/*/schedstat counts in ns where /proc/PID/stat counts
    10 ms ticks, too coarse for a few seconds of a light process."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just ended
    return total


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}"


# ---------------------------------------------------------------- nginx

class Nginx:
    """One nginx, one worker, answering `200 ok` on four ports."""

    def __init__(self, workdir):
        self.dir = workdir
        self.http, self.https, self.h2c, self.h2s = free_port(), free_port(), free_port(), free_port()
        cert, key = workdir / "cert.pem", workdir / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        conf = workdir / "nginx.conf"
        conf.write_text(f"""
worker_processes 1;
worker_rlimit_nofile 30000;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 25000; }}
http {{
    access_log off;
    keepalive_timeout 3600s;
    keepalive_requests 10000000;
    client_body_temp_path {workdir};
    proxy_temp_path {workdir};
    fastcgi_temp_path {workdir};
    uwsgi_temp_path {workdir};
    scgi_temp_path {workdir};
    server {{
        listen 127.0.0.1:{self.http} backlog=4096;
        listen 127.0.0.1:{self.https} ssl backlog=4096;
        listen 127.0.0.1:{self.h2c} http2 backlog=4096;
        listen 127.0.0.1:{self.h2s} ssl http2 backlog=4096;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
        self.proc = start(["nginx", "-c", str(conf), "-p", str(workdir)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in (self.http, self.https, self.h2c, self.h2s):
            wait_for_port(port)
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        self.worker = int(children[0])

    def stop(self):
        stop(self.proc, signal.SIGQUIT)


# ---------------------------------------------------------------- collector

class Collector:
    """OTLP stand-ins on loopback, OTLP/HTTP and OTLP/gRPC: the tests'
    receiver with --discard (answers an empty ExportTraceServiceResponse,
    keeps nothing), each in a process of its own."""

    EXPORTS = {  # name: how the tracer exports
        "none": "--exporter none (the floor)",
        "otlp": "OTLP/HTTP protobuf",
        "otlp-gzip": "OTLP/HTTP protobuf, gzip",
        "grpc": "OTLP/gRPC",
        "console": "console to /dev/null",
    }

    def __init__(self):
        self.http, self.grpc = free_port(), free_port()
        receiver = str(ROOT / "Tests/e2e/otlp_receiver.py")
        for port, extra in ((self.http, []), (self.grpc, ["--grpc"])):
            start([sys.executable, receiver, "--port", str(port), "--discard", *extra],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(port)

    def exporter(self, name):
        """(flags, environment) for the tracer."""
        http = ["--exporter", "otlp", "--otlp-endpoint", f"http://127.0.0.1:{self.http}"]
        return {
            "none": (["--exporter", "none"], {}),
            "otlp": (http, {}),
            "otlp-gzip": (http, {"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}),
            "grpc": (["--exporter", "otlp", "--otlp-protocol", "grpc", "--otlp-endpoint", f"http://127.0.0.1:{self.grpc}"], {}),
            "console": (["--exporter", "console"], {}),
        }[name]


COLLECTOR = None  # started in main()


# ---------------------------------------------------------------- tracer

class Tracer:
    """l7trace selecting the nginx on one port; stopped by SIGTERM."""

    def __init__(self, binary, nginx, port, more_ports=(), more_args=(), export="otlp", both_ends=False):
        # The worker is named too: --pid follows the children forked after the tracer started.
        # `both_ends`: the port alone, so the load generator's client side is traced as well.
        ports = [arg for p in (port, *more_ports) for arg in ("--port", str(p))]
        pids = [] if both_ends else ["--pid", str(nginx.proc.pid), "--pid", str(nginx.worker)]
        export_args, env = COLLECTOR.exporter(export)
        self.proc = start([binary, *pids, *ports,
                           *export_args, *more_args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
        self.lines = []
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.lines.append(line)
                if line.startswith("l7trace: ready"):
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(60) or self.proc.poll() is not None:
            stop(self.proc, signal.SIGKILL)
            raise RuntimeError("l7trace did not start:\n" + "".join(self.lines))
        self.pid = self.proc.pid

    def stop(self):
        """Stops the tracer and returns its counters from the stats line it logs at exit."""
        stop(self.proc)
        time.sleep(0.2)  # let the pump read the last line
        stats = [line for line in self.lines if "l7trace: stats:" in line]
        if not stats:
            raise RuntimeError("l7trace logged no stats line:\n" + "".join(self.lines))
        line = stats[-1]

        def number(pattern):
            match = re.search(pattern, line)
            return int(match.group(1)) if match else 0

        exchanges = re.search(r"exchanges (.*?);", line).group(1)
        return {
            "lost": number(r"lost (\d+) events"),
            "exchanges": sum(int(n) for n in re.findall(r"\w+ (\d+)", exchanges)),
            "spans": number(r"spans exported (\d+)"),
            "dropped": number(r"dropped (\d+)"),
            "line": line.strip(),
        }


# ---------------------------------------------------------------- load

def h2load(url, args, timeout=120):
    out = subprocess.run(["h2load", *args, url], capture_output=True, text=True, timeout=timeout).stdout
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    rate = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    if not done or not rate:
        raise RuntimeError("h2load failed:\n" + out)
    return int(done.group(1)), float(rate.group(1))


def fixed_rate(url, h1, rate, seconds, clients=4):
    """Sends rate × seconds requests at `rate` requests/s over `clients`
    keep-alive connections; returns the number that succeeded."""
    args = ["-t1", f"-c{clients}", f"--rps={rate // clients}", f"-n{rate * seconds}"] + (["--h1"] if h1 else [])
    return h2load(url, args, timeout=seconds * 4 + 30)[0]


def saturate(url, tool, seconds):
    """Requests/s that nginx answers to 16 connections that never wait."""
    if tool == "wrk":
        out = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", url], capture_output=True, text=True,
                             timeout=seconds + 60).stdout
        match = re.search(r"Requests/sec:\s*([\d.]+)", out)
        if not match:
            raise RuntimeError("wrk failed:\n" + out)
        return float(match.group(1))
    return h2load(url, ["-t1", "-c16", "-m10", f"-D{seconds}"], timeout=seconds + 60)[1]


# ---------------------------------------------------------------- the four figures

PROTOCOLS = [  # name, url of nginx's port, h2load --h1?, saturating tool, throughput goal
    ("HTTP/1.1", lambda n: f"http://127.0.0.1:{n.http}/", True, "wrk", 0.70),
    ("HTTPS", lambda n: f"https://127.0.0.1:{n.https}/", True, "wrk", 0.17),
    ("h2c", lambda n: f"http://127.0.0.1:{n.h2c}/", False, "h2load", 0.80),
    ("HTTP/2 TLS", lambda n: f"https://127.0.0.1:{n.h2s}/", False, "h2load", None),  # ALPN h2; no goal
]


def port_of(url):
    return int(url.rsplit(":", 1)[1].strip("/"))


def sides(binary, baseline):
    """{"new": binary} and, with --baseline-bin, {"base": baseline}: the builds an A/B figure runs."""
    return {"new": binary, **({"base": baseline} if baseline else {})}


def in_turn(names, repetition):
    """The sides in alternating order (new base, base new, ...), so that a drift of
    the machine during a figure weighs on both builds alike."""
    return list(names) if repetition % 2 == 0 else list(reversed(names))


def spread(values):
    """(max - min) / median of one build's repetitions: its noise against itself."""
    return (max(values) - min(values)) / statistics.median(values) if len(values) > 1 else None


def ab_row(figure, unit, new, base, higher_is_better=False):
    """One A/B row: medians of the new build and the base, new / base, the range of
    the paired per-repetition ratios, and whether the ratio is within the noise:
    the largest spread of either build against itself or of the paired ratios.
    Few repetitions on a busy machine make a rough noise figure, hence "WORSE?"."""
    ratio = statistics.median(new) / statistics.median(base)
    pairs = [n / b for n, b in zip(new, base)]
    noises = [x for x in (spread(new), spread(base), spread(pairs)) if x is not None]
    noise = max(noises) if noises else None
    fmt = (lambda v: f"{v:,.0f} {unit}") if unit == "req/s" else (lambda v: f"{v:.2f} {unit}")
    if noise is None:
        goal, verdict = "(1 run: no noise figure)", ""
    elif higher_is_better:
        goal, verdict = f"≥ {1 - noise:.2f} (noise ±{noise:.0%})", "ok" if ratio >= 1 - noise else "WORSE?"
    else:
        goal, verdict = f"≤ {1 + noise:.2f} (noise ±{noise:.0%})", "ok" if ratio <= 1 + noise else "WORSE?"
    return (f"  A/B {figure}", f"new {fmt(statistics.median(new))}", f"base {fmt(statistics.median(base))}",
            f"{ratio:.2f} new/base (runs {min(pairs):.2f}–{max(pairs):.2f})", goal, verdict)


def measure_cpu(binary, nginx, rate, seconds, rows, runs=1, baseline=None):
    """Figure 1: tracer CPU per request with OTLP export, next to `--exporter
    none` (the floor) and to the CPU nginx itself spends per request, with and
    without the tracer; medians of `runs` alternating runs (one machine-wide
    hiccup moves a single run by a microsecond or more). HTTP/1.1 also runs
    OTLP/gRPC, gzip and the console exporter. With a `baseline` binary every
    tracer run is made by both builds in turn, and each row gets an A/B row."""
    builds = sides(binary, baseline)
    for name, url_of, h1, _, _ in PROTOCOLS:
        url = url_of(nginx)
        exports = ["none", "otlp"] + (["grpc", "otlp-gzip", "console"] if name == "HTTP/1.1" else [])
        alone = []
        tracer_runs = {(side, e): [] for side in builds for e in exports}
        traced_runs = {side: [] for side in builds}
        for repetition in range(runs):
            before = cpu_ns(nginx.worker)
            done = fixed_rate(url, h1, rate, seconds)
            alone.append((cpu_ns(nginx.worker) - before) / max(done, 1) / 1000)
            for export in exports:
                for side in in_turn(builds, repetition):
                    tracer = Tracer(builds[side], nginx, port_of(url), export=export)
                    time.sleep(0.5)
                    before, before_nginx = cpu_ns(tracer.pid), cpu_ns(nginx.worker)
                    done = fixed_rate(url, h1, rate, seconds)
                    time.sleep(0.7)  # the last events drain and the last batch leaves (OTEL_BSP_SCHEDULE_DELAY 5 s: flushed at stop, not counted)
                    tracer_runs[side, export].append((cpu_ns(tracer.pid) - before) / max(done, 1) / 1000)
                    if export == "otlp":
                        traced_runs[side].append((cpu_ns(nginx.worker) - before_nginx) / max(done, 1) / 1000)
                    stats = tracer.stop()
                    if stats["exchanges"] != done:
                        print(f"  note: {name} ({export}, {side}): {stats['exchanges']} exchanges for {done} requests ({stats['line']})",
                              file=sys.stderr)
        for side in builds:
            label = f" [{side}]" if baseline else ""
            print(f"  {name} @ {rate}/s{label}: tracer µs/request "
                  + ", ".join(f"{e} {[round(x, 2) for x in tracer_runs[side, e]]}" for e in exports)
                  + f"; nginx alone {[round(x, 2) for x in alone]}, traced {[round(x, 2) for x in traced_runs[side]]}",
                  file=sys.stderr)
        median = {e: statistics.median(tracer_runs["new", e]) for e in exports}
        nginx_alone, nginx_traced = statistics.median(alone), statistics.median(traced_runs["new"])
        floor = median["none"]
        for export in exports:
            us = median[export]
            goal = verdict = ""
            if export == "otlp" and name == "HTTP/1.1":
                goal, verdict = "≤ 2 µs", "ok" if us <= 2 else "MISSED"
            elif export == "console":
                goal, verdict = "≤ 1.5× none", "ok" if us <= 1.5 * floor else "MISSED"
            share = "" if export == "none" else f"export {us - floor:+.1f} µs"
            rows.append((f"tracer CPU per request, {name} @ {rate}/s, {Collector.EXPORTS[export]}", f"{us:.1f} µs",
                         f"nginx worker {nginx_alone:.1f} µs" if export == "none" else f"none {floor:.1f} µs",
                         share, goal, verdict))
            if baseline:
                rows.append(ab_row(f"tracer CPU per request, {name}, {Collector.EXPORTS[export]}", "µs",
                                   tracer_runs["new", export], tracer_runs["base", export]))
        rows.append((f"  nginx CPU per request when traced (probes), {name}", f"{nginx_traced:.1f} µs",
                     f"{nginx_alone:.1f} µs", f"{nginx_traced - nginx_alone:+.1f} µs", "", ""))
        if baseline:
            rows.append(ab_row(f"nginx CPU per request when traced (probes), {name}", "µs",
                               traced_runs["new"], traced_runs["base"]))


def measure_throughput(binary, nginx, seconds, runs, rows, baseline=None):
    """Figure 2: saturated nginx with the tracer / without, median of alternating
    runs; with a `baseline` binary each run also saturates nginx traced by it."""
    builds = sides(binary, baseline)
    for name, url_of, _, tool, goal in PROTOCOLS:
        url = url_of(nginx)
        alone, lost, dropped = [], 0, 0
        traced_by = {side: [] for side in builds}
        for repetition in range(runs):
            alone.append(saturate(url, tool, seconds))
            for side in in_turn(builds, repetition):
                tracer = Tracer(builds[side], nginx, port_of(url))
                traced_by[side].append(saturate(url, tool, seconds))
                stats = tracer.stop()
                if side == "new":
                    lost += stats["lost"]
                    dropped += stats["dropped"]
        traced = traced_by["new"]
        with_base = f", with base {' '.join(f'{r:.0f}' for r in traced_by['base'])}" if baseline else ""
        print(f"  {name}: without {' '.join(f'{r:.0f}' for r in alone)}, with {' '.join(f'{r:.0f}' for r in traced)}{with_base} req/s; "
              f"events lost {lost}, spans dropped {dropped}", file=sys.stderr)
        ratio = statistics.median(traced) / statistics.median(alone)
        rows.append((f"nginx throughput traced, OTLP export on, {name} ({tool}, 16 conns)", f"{statistics.median(traced):,.0f} req/s",
                     f"{statistics.median(alone):,.0f} req/s", f"{ratio:.2f}", "—" if goal is None else f"≥ {goal:.2f}",
                     "" if goal is None else "ok" if ratio >= goal else "MISSED"))
        if baseline:
            rows.append(ab_row(f"nginx throughput traced, {name}", "req/s", traced_by["new"], traced_by["base"],
                               higher_is_better=True))
        # Saturation may cost completeness: whatever is lost is counted (all traced runs together).
        rows.append((f"  kernel events lost / spans dropped at saturation, {name}", f"{lost:,} / {dropped:,}",
                     "", "", "counted", ""))


def measure_completeness(binary, nginx, rate, seconds, rows):
    """Figure 3: at a fixed rate every completed request gives one span, and nothing is lost."""
    tracer = Tracer(binary, nginx, nginx.http)
    done = fixed_rate(f"http://127.0.0.1:{nginx.http}/", True, rate, seconds, clients=10)
    time.sleep(1)
    stats = tracer.stop()
    complete = stats["spans"] == done and stats["lost"] == 0 and stats["dropped"] == 0
    rows.append((f"spans / completed requests, HTTP/1.1 @ {rate}/s for {seconds} s", f"{stats['spans']:,}",
                 f"{done:,}", f"{stats['spans'] / max(done, 1):.4f}", "= 1, lost 0", "ok" if complete else "MISSED"))
    rows.append(("  kernel events lost / spans dropped", f"{stats['lost']} / {stats['dropped']}", "", "", "0 / 0",
                 "ok" if stats["lost"] == 0 and stats["dropped"] == 0 else "MISSED"))


def open_idle_connections(port, count):
    """Opens `count` keep-alive connections, sends one request on each and
    reads its answer, so that nginx and the tracer hold state for every one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, count + 1000), max(hard, count + 1000)))
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    sockets = []
    while len(sockets) < count:
        batch = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(min(200, count - len(sockets)))]
        for s in batch:
            s.sendall(request)
        for s in batch:
            if not s.recv(4096).startswith(b"HTTP/1.1 200"):
                raise RuntimeError("nginx did not answer")
        sockets.extend(batch)
    return sockets


def measure_memory(binary, nginx, count, idle, rows):
    """Figure 4: tracer RSS with many idle connections open to the traced nginx."""
    tracer = Tracer(binary, nginx, nginx.http)
    time.sleep(1)
    empty = status_kb(tracer.pid, "VmRSS")
    sockets = open_idle_connections(nginx.http, count)
    try:
        time.sleep(2)
        loaded = status_kb(tracer.pid, "VmRSS")
        time.sleep(idle)
        later = status_kb(tracer.pid, "VmRSS")
        peak = status_kb(tracer.pid, "VmHWM")
    finally:
        for s in sockets:
            s.close()
    time.sleep(1)
    stats = tracer.stop()
    mb = lambda kb: f"{kb / 1024:.1f} MB"
    rows.append((f"tracer RSS, {count:,} idle connections open", mb(loaded), f"no connection {mb(empty)}",
                 f"{(loaded - empty) * 1024 / count:,.0f} B/conn", "—", ""))
    rows.append((f"  tracer RSS {idle} s later (peak)", f"{mb(later)} ({mb(peak)})", "", "", "—",
                 "" if stats["exchanges"] == count else f"{stats['exchanges']} spans"))


# ---------------------------------------------------------------- gRPC

class GRPCServer:
    """The grpcio server of the end-to-end tests (demo.Echo, raw-bytes
    messages) on a random loopback port: a real gRPC stack, not nginx."""

    def __init__(self):
        self.port = free_port()
        self.proc = start([sys.executable, str(ROOT / "Tests/e2e/servers/grpc_server.py"), str(self.port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        # Tracer names a master and a worker; here one process does both.
        self.worker = self.proc.pid

    def stop(self):
        stop(self.proc)


def grpc_request_file(workdir):
    """A gRPC unary request body: not compressed, 4-byte length, message.
    The server's methods take raw bytes, so any bytes are a message."""
    message = b"ping"
    path = workdir / "grpc-request.bin"
    path.write_bytes(b"\x00" + len(message).to_bytes(4, "big") + message)
    return path


GRPC_HEADERS = ["-H", "content-type: application/grpc", "-H", "te: trailers"]


def check_grpc_ok(url, body):
    """h2load counts HTTP 200 as success; a gRPC call also needs grpc-status 0
    in its trailers, so one call is made with nghttp, which prints them."""
    out = subprocess.run(["nghttp", "-v", *GRPC_HEADERS, "-d", str(body), url], capture_output=True, timeout=30).stdout
    if b"grpc-status: 0" not in out:
        raise RuntimeError("the gRPC server did not answer grpc-status 0:\n" + out.decode(errors="replace"))


def measure_grpc(binary, workdir, rate, seconds, rows, runs=1, baseline=None):
    """Figure 5: tracer CPU per gRPC unary call at a fixed rate, next to the server's
    own; with a `baseline` binary, `runs` repetitions of both builds in turn."""
    builds = sides(binary, baseline)
    tracer_by, server_by = {side: [] for side in builds}, {side: [] for side in builds}
    server = GRPCServer()
    try:
        url, body = f"http://127.0.0.1:{server.port}/demo.Echo/Unary", grpc_request_file(workdir)
        check_grpc_ok(url, body)
        clients = 4
        args = ["-t1", f"-c{clients}", f"--rps={rate // clients}", f"-n{rate * seconds}", *GRPC_HEADERS, "-d", str(body)]
        before = cpu_ns(server.proc.pid)
        done = h2load(url, args, timeout=seconds * 4 + 30)[0]
        server_alone = (cpu_ns(server.proc.pid) - before) / max(done, 1) / 1000

        for repetition in range(runs if baseline else 1):
            for side in in_turn(builds, repetition):
                tracer = Tracer(builds[side], server, server.port)
                time.sleep(0.5)
                before, before_server = cpu_ns(tracer.pid), cpu_ns(server.proc.pid)
                done = h2load(url, args, timeout=seconds * 4 + 30)[0]
                time.sleep(0.5)  # the last events drain
                tracer_by[side].append((cpu_ns(tracer.pid) - before) / max(done, 1) / 1000)
                server_by[side].append((cpu_ns(server.proc.pid) - before_server) / max(done, 1) / 1000)
                stats = tracer.stop()
                if stats["exchanges"] != done:
                    print(f"  note: gRPC ({side}): {stats['exchanges']} exchanges for {done} calls ({stats['line']})",
                          file=sys.stderr)
    finally:
        server.stop()
    if baseline:
        print(f"  gRPC @ {rate}/s: tracer µs/call new {[round(x, 2) for x in tracer_by['new']]}, "
              f"base {[round(x, 2) for x in tracer_by['base']]}", file=sys.stderr)
    tracer_us, server_traced = statistics.median(tracer_by["new"]), statistics.median(server_by["new"])
    rows.append((f"tracer CPU per call, gRPC unary (grpcio server) @ {rate}/s", f"{tracer_us:.1f} µs",
                 f"server {server_alone:.1f} µs", "", "—", ""))
    rows.append(("  server CPU per call when traced (probes), gRPC", f"{server_traced:.1f} µs",
                 f"{server_alone:.1f} µs", f"{server_traced - server_alone:+.1f} µs", "", ""))
    if baseline:
        rows.insert(-1, ab_row("tracer CPU per call, gRPC unary", "µs", tracer_by["new"], tracer_by["base"]))


def measure_linking(binary, nginx, rate, seconds, rows, runs):
    """Figure 6: the tracer sees both ends of every request (h2load's client
    connections and nginx's), with linking and with `--no-link`, in turn;
    CPU per request (two spans each), medians of `runs` repetitions."""
    for name, url_of, h1, _, _ in PROTOCOLS:
        if name not in ("HTTP/1.1", "h2c"):
            continue
        url = url_of(nginx)
        by = {"on": [], "off": []}
        for repetition in range(runs):
            for side in in_turn(["on", "off"], repetition):
                tracer = Tracer(binary, nginx, port_of(url), both_ends=True,
                                more_args=[] if side == "on" else ["--no-link"])
                time.sleep(0.5)
                before = cpu_ns(tracer.pid)
                done = fixed_rate(url, h1, rate, seconds)
                time.sleep(0.7)
                by[side].append((cpu_ns(tracer.pid) - before) / max(done, 1) / 1000)
                stats = tracer.stop()
                if stats["exchanges"] != 2 * done:
                    print(f"  note: linking {name} ({side}): {stats['exchanges']} exchanges for {done} requests, "
                          f"both ends ({stats['line']})", file=sys.stderr)
                if side == "on" and f"span links linked {done}" not in stats["line"]:
                    print(f"  note: linking {name}: not every server span linked ({stats['line']})", file=sys.stderr)
        print(f"  linking {name} @ {rate}/s: tracer µs/request on {[round(x, 2) for x in by['on']]}, "
              f"off {[round(x, 2) for x in by['off']]}", file=sys.stderr)
        on, off = statistics.median(by["on"]), statistics.median(by["off"])
        rows.append((f"tracer CPU per request, both ends traced, {name} @ {rate}/s, linking", f"{on:.2f} µs",
                     f"--no-link {off:.2f} µs", f"linking {on - off:+.2f} µs", "≤ 0.3 µs",
                     "ok" if on - off <= 0.3 else "MISSED"))


# ---------------------------------------------------------------- memory over minutes

def churn(nginx, stopping):
    """New connections now and then: every 10 s a short h2load run opens 50
    connections (HTTP/1.1, h2c and HTTP/2 over TLS in turn), sends 10
    requests on each and closes them, so the tracer must forget them."""
    urls = [(f"http://127.0.0.1:{nginx.http}/", ["--h1"]), (f"http://127.0.0.1:{nginx.h2c}/", []),
            (f"https://127.0.0.1:{nginx.h2s}/", [])]
    turn = 0
    while not stopping.wait(10):
        url, extra = urls[turn % len(urls)]
        turn += 1
        try:
            h2load(url, ["-t1", "-c50", "-n500", *extra], timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"  churn: {error}", file=sys.stderr)


def slope_mb_per_minute(samples):
    """Least-squares slope of (seconds, kB) samples, in MB per minute."""
    xs, ys = [t / 60 for t, _ in samples], [kb / 1024 for _, kb in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / spread if spread else 0.0


def measure_memory_over_time(binary, nginx, count, minutes, rows, rate=2000, every=30):
    """The long memory figure: `count` idle keep-alive connections stay open
    while h2load sends `rate` requests/s on 8 others and `churn` opens and
    closes connections; the tracer's VmRSS is sampled every `every` s."""
    tracer = Tracer(binary, nginx, nginx.http, more_ports=(nginx.h2c, nginx.h2s), more_args=("--stats-interval", "60"))
    time.sleep(1)
    empty = status_kb(tracer.pid, "VmRSS")
    sockets = open_idle_connections(nginx.http, count)
    seconds = int(minutes * 60)
    steady = start(["h2load", "-t1", "-c8", f"--rps={rate // 8}", f"-D{seconds + 30}", "--h1",
                    f"http://127.0.0.1:{nginx.http}/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stopping = threading.Event()
    churner = threading.Thread(target=churn, args=(nginx, stopping), daemon=True)
    samples = []
    try:
        time.sleep(5)  # the steady traffic is under way
        churner.start()
        began = time.time()
        while True:
            elapsed = time.time() - began
            samples.append((elapsed, status_kb(tracer.pid, "VmRSS")))
            print(f"  memory: {elapsed:4.0f} s  RSS {samples[-1][1] / 1024:.1f} MB", file=sys.stderr)
            if elapsed >= seconds - 1:
                break
            time.sleep(min(every, seconds - elapsed))
        peak = status_kb(tracer.pid, "VmHWM")
    finally:
        stopping.set()
        if churner.is_alive():
            churner.join(timeout=90)
        stop(steady, signal.SIGINT)
        for s in sockets:
            s.close()
    time.sleep(1)
    stats = tracer.stop()
    for line in tracer.lines:
        if "l7trace: stats:" in line:
            print("  " + line.strip(), file=sys.stderr)
    start_kb, end_kb = samples[0][1], samples[-1][1]
    slope = slope_mb_per_minute([s for s in samples if s[0] >= seconds / 2])
    mb = lambda kb: f"{kb / 1024:.1f} MB"
    flat = slope <= 0.1  # under 1 MB per 10 minutes: the page-granular noise of malloc, not a leak
    rows.append((f"tracer RSS over {minutes:g} min, {count:,} idle conns + {rate}/s + churn", f"end {mb(end_kb)}",
                 f"start {mb(start_kb)}", f"{slope:+.2f} MB/min (2nd half)", "≤ 64 MB, flat",
                 "ok" if flat and peak <= 64 * 1024 else "MISSED"))
    rows.append(("  tracer peak RSS (VmHWM) / with no connection", mb(peak), mb(empty), "", "≤ 64 MB",
                 "ok" if peak <= 64 * 1024 else "MISSED"))
    rows.append(("  exchanges traced / lost events / dropped spans", f"{stats['exchanges']:,}",
                 "", "", "", f"{stats['lost']} / {stats['dropped']}"))


# ---------------------------------------------------------------- parsers

def measure_parsers(quick, rows):
    """Parser throughput on recorded streams next to llhttp / libnghttp2, in one
    process (bench/parsers, a package of its own; see its README)."""
    import json
    subprocess.run([os.environ.get("SWIFT", "swift"), "build", "-c", "release", "--package-path", str(ROOT / "bench/parsers"),
                    "--scratch-path", str(ROOT / ".build-parsers")], check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([str(ROOT / ".build-parsers/release/ParserBench"), "--json", "--nio", "--rounds", "3" if quick else "7"],
                         check=True, capture_output=True, text=True, timeout=600).stdout
    rate = lambda p: f"{p['mb_per_s']:,.0f} MB/s, {p['exchanges_per_s']:,.0f} exch/s"
    for figure in json.loads(out)["figures"]:
        ours, reference, *others = figure["parsers"]
        rows.append((f"parser throughput {figure['protocol']} (ours vs {reference['name']})", rate(ours),
                     f"{reference['name']} {rate(reference)}", f"{figure['ratio']:.2f}", "≥ 0.50",
                     "ok" if figure["ratio"] >= 0.50 else "MISSED"))
        for other in others:  # NIOHTTP1's whole decoders: a second reference, no goal
            rows.append((f"  ours vs {other['name']} (whole decoders), {figure['protocol']}", "",
                         f"{other['name']} {rate(other)}", f"{figure['other_ratios'][other['name']]:.2f}", "—", ""))


# ---------------------------------------------------------------- table

def table(rows):
    head = ("figure", "measured", "baseline", "ratio / delta", "goal", "")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.environ.get("L7TRACE_BIN") or str(ROOT / ".build/release/l7trace"))
    parser.add_argument("--quick", action="store_true", help="shorter runs, for trying the script out")
    parser.add_argument("--baseline-bin", metavar="PATH",
                        help="another build (e.g. the previous commit's) run in turn with --bin on the same load: "
                             "A/B rows for the CPU and throughput figures")
    parser.add_argument("--runs", type=int, metavar="N",
                        help="repetitions of the CPU and throughput figures (default 3, --quick 1; "
                             "2 with --quick --baseline-bin, the least that gives a noise figure)")
    parser.add_argument("--skip-parsers", action="store_true", help="leave out the parser throughput figures")
    parser.add_argument("--memory-minutes", type=float, metavar="N",
                        help="instead of the table, the memory figure over N minutes (make bench-memory: 10)")
    opts = parser.parse_args()
    # SIGTERM (bench/ab.sh stopping us) unwinds like Ctrl-C, through the `finally`s that stop what we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        sys.exit("bench: the tracer loads BPF programs: run as root (sudo make bench)")
    if not Path(opts.bin).exists():
        sys.exit(f"bench: {opts.bin} is missing: run `make build` first")
    if opts.baseline_bin and not Path(opts.baseline_bin).exists():
        sys.exit(f"bench: the baseline {opts.baseline_bin} is missing")
    if opts.runs is not None and opts.runs < 1:
        sys.exit("bench: --runs needs a positive number")
    runs = opts.runs or (3 if not opts.quick else 2 if opts.baseline_bin else 1)
    seconds = 2 if opts.quick else 5
    if opts.memory_minutes:
        return memory_only(opts)

    rows = []
    began = time.time()
    global COLLECTOR
    COLLECTOR = Collector()
    with tempfile.TemporaryDirectory(prefix="l7trace-bench-") as tmp:
        nginx = Nginx(Path(tmp))
        try:
            print("bench: tracer CPU per request…", file=sys.stderr)
            measure_cpu(opts.bin, nginx, 2000, seconds, rows, runs=runs, baseline=opts.baseline_bin)
            print("bench: throughput…", file=sys.stderr)
            measure_throughput(opts.bin, nginx, seconds, runs, rows, baseline=opts.baseline_bin)
            print("bench: completeness…", file=sys.stderr)
            measure_completeness(opts.bin, nginx, 5000, 2 if opts.quick else 10, rows)
            print("bench: memory…", file=sys.stderr)
            measure_memory(opts.bin, nginx, 1000 if opts.quick else 10000, 3 if opts.quick else 15, rows)
            print("bench: gRPC…", file=sys.stderr)
            measure_grpc(opts.bin, Path(tmp), 1000, seconds, rows, runs=runs, baseline=opts.baseline_bin)
            print("bench: linking…", file=sys.stderr)
            measure_linking(opts.bin, nginx, 2000, seconds, rows, runs=max(runs, 3))
            if not opts.skip_parsers:
                print("bench: parser throughput…", file=sys.stderr)
                try:
                    measure_parsers(opts.quick, rows)
                except (subprocess.SubprocessError, OSError, ValueError, KeyError) as error:
                    print(f"  parser benchmark failed: {error}", file=sys.stderr)
                    rows.append(("parser throughput", "failed (see stderr)", "", "", "≥ 0.50", "MISSED"))
        finally:
            for proc in list(STARTED):
                stop(proc, signal.SIGQUIT if proc is nginx.proc else signal.SIGTERM)
    print_table(rows, began, opts)


def memory_only(opts):
    """`--memory-minutes N`: the long memory figure alone, as its own table."""
    rows, began = [], time.time()
    global COLLECTOR
    COLLECTOR = Collector()
    with tempfile.TemporaryDirectory(prefix="l7trace-bench-") as tmp:
        nginx = Nginx(Path(tmp))
        try:
            print(f"bench: memory over {opts.memory_minutes:g} minutes…", file=sys.stderr)
            measure_memory_over_time(opts.bin, nginx, 1000 if opts.quick else 10000, opts.memory_minutes, rows)
        finally:
            for proc in list(STARTED):
                stop(proc, signal.SIGQUIT if proc is nginx.proc else signal.SIGTERM)
    print_table(rows, began)


def describe(binary):
    """A build's path, size and modification time, to tell the two sides of an A/B apart."""
    info = Path(binary).stat()
    return f"{binary} ({info.st_size / 1e6:.1f} MB, built {time.strftime('%Y-%m-%d %H:%M', time.localtime(info.st_mtime))})"


def print_table(rows, began, opts=None):
    print(f"\nl7trace bench, {time.strftime('%Y-%m-%d %H:%M')}, {machine()}, {time.time() - began:.0f} s\n")
    if opts is not None and opts.baseline_bin:
        print(f"A/B: new = {describe(opts.bin)}\n     base = {describe(opts.baseline_bin)}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
