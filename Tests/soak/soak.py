#!/usr/bin/env python3
"""Soak test (issue 21 item 6): the release binary traces nginx (plain and
h2c), a garbage server and a sink, all started here, through hostile
phases. After each phase a normal burst of requests must give exactly its
spans (one SERVER and one CLIENT span per completed request, right name and
status) at the OTLP receiver. Prints a table: RSS before/peak/after, ring-buffer
events lost, spans dropped, parse errors, exchanges, exactness.

    sudo python3 Tests/soak/soak.py --bin .build/release/l7trace [--short] [--only idle,rapid-reset]
        [--rss-ceiling-mb 4500] [--growth-limit-mb 64]

A tracer that dies is reported with its exit code and restarted for the next
phase; one above --rss-ceiling-mb is killed (so that a runaway does not take
the machine). Exit status 1 when any phase fails.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import traffic

HERE = Path(__file__).resolve().parent
RECEIVER = HERE.parent / "e2e" / "otlp_receiver.py"
NGINX_CONF = """worker_processes 1;
worker_rlimit_nofile {fds};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 30000; }}
http {{
    access_log off;
    client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
    uwsgi_temp_path {dir}; scgi_temp_path {dir};
    keepalive_requests 1000;
    server {{ listen 127.0.0.1:{plain}; location / {{ return 200 "hello\\n"; }} }}
    server {{ listen 127.0.0.1:{h2c} http2; location / {{ return 200 "hello\\n"; }} }}
}}
"""


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=20):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            traffic.connect(port, timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Tracer:
    """l7trace with a --port selection of our servers; watches its RSS."""

    def __init__(self, binary, ports, endpoint, ceiling_mb, workdir):
        self.metrics_port = free_port()
        args = [binary, "--exporter", "otlp", "--otlp-endpoint", endpoint, "--metrics-port", str(self.metrics_port),
                "--stats-interval", "0"] + [a for p in ports for a in ("--port", str(p))]
        # A queue that holds a phase's spans: the Python receiver, not the tracer,
        # is the slow end here (drops would still be counted and shown).
        env = dict(os.environ, OTEL_BSP_SCHEDULE_DELAY="200", OTEL_BSP_MAX_QUEUE_SIZE="131072",
                   OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2048")
        self.log = open(workdir / "tracer.log", "a")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.PIPE, text=True)
        self.ceiling_mb, self.peak, self.killed_at_ceiling = ceiling_mb, 0.0, False
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if not ready.wait(60) or self.proc.poll() is not None:
            raise RuntimeError("l7trace never said it was ready (see tracer.log)")
        threading.Thread(target=self._watch, daemon=True).start()

    def _pump(self, ready):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()
            if line.startswith("l7trace: ready"):
                ready.set()
        ready.set()

    def _watch(self):
        while self.proc.poll() is None:
            rss = rss_mb(self.proc.pid)
            self.peak = max(self.peak, rss)
            if rss > self.ceiling_mb:
                self.killed_at_ceiling = True
                self.proc.kill()
            time.sleep(0.05)

    def settle(self, limit=90.0):
        """Waits (at most `limit` s) until the tracer's RSS stops moving: it may
        still be working through a backlog the phase left (or dying of it)."""
        end, last = time.monotonic() + limit, (-1.0, self.cpu_seconds())
        while time.monotonic() < end and self.alive():
            time.sleep(1.0)
            now = (self.rss, self.cpu_seconds())
            if abs(now[0] - last[0]) < 1.0 and now[1] - last[1] < 0.3:
                return
            last = now

    def cpu_seconds(self):
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def death(self):
        code = self.proc.returncode
        if self.killed_at_ceiling:
            return f"was killed at the RSS ceiling ({self.ceiling_mb:.0f} MB)"
        return f"died: signal {-code}" if code < 0 else f"died: exit {code}"

    @property
    def rss(self):
        return rss_mb(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def counters(self):
        """The Prometheus counters that matter here, summed over labels."""
        out = {"events_lost": 0, "spans_dropped": 0, "parse_errors": 0, "exchanges": 0}
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            for name in out:
                if line.startswith(f"l7trace_{name}_total"):
                    out[name] += int(float(line.rsplit(" ", 1)[1]))
        return out

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Spans:
    """Reads the receiver's JSON lines as they come."""

    def __init__(self, path):
        self.path, self.offset, self.spans = path, 0, []

    def poll(self):
        if not self.path.exists():
            return self.spans
        with open(self.path) as f:
            f.seek(self.offset)
            text = f.read()
        complete = text[:text.rfind("\n") + 1]
        self.offset += len(complete.encode())
        self.spans += [json.loads(line) for line in complete.splitlines() if line.strip()]
        return self.spans

    def under(self, prefix):
        return [s for s in self.poll() if str(s["attributes"].get("url.path", "")).startswith(prefix)]


def exact(spans, prefix, completed, settle=15.0):
    """Whether the spans of `prefix` are exactly one SERVER and one CLIENT per completed
    request, named GET… with status 200; waits for them to arrive."""
    end = time.monotonic() + settle
    while time.monotonic() < end and len(spans.under(prefix)) < 2 * completed:
        time.sleep(0.2)
    time.sleep(0.5)  # anything extra would arrive now
    got = spans.under(prefix)
    server = [s for s in got if s["kind_name"] == "SERVER"]
    client = [s for s in got if s["kind_name"] == "CLIENT"]
    wrong = [s for s in got if not s["name"].startswith("GET") or s["attributes"].get("http.response.status_code") != 200]
    ok = len(server) == completed and len(client) == completed and not wrong
    return ok, f"{len(server)}S/{len(client)}C of {completed}" + (f", {len(wrong)} wrong" if wrong else "")


def burst(ports, phase, spans, n1, n2):
    """The normal traffic after a phase: HTTP/1 requests to nginx, and h2c ones with nghttp."""
    prefix = f"/check/{phase}/"
    done = sum(traffic.http1_get(ports["plain"], f"{prefix}{i}") == 200 for i in range(n1))
    urls = [f"http://127.0.0.1:{ports['h2c']}{prefix}h2-{i}" for i in range(n2)]
    h2 = subprocess.run(["nghttp", "-n"] + urls, capture_output=True, timeout=30)
    done += n2 if h2.returncode == 0 else 0
    return exact(spans, prefix, done)


def note_late_death(rows, tracer):
    """A tracer that died after its row was written (during the burst, or
    while working through a backlog): the row says so. True when it died."""
    if tracer.alive():
        return False
    rows[-1][-2] = "FAIL"
    rows[-1][-1] += f"; then the tracer {tracer.death()}"
    return True


# Phases that write into the ring faster than any reader drains it (24 MiB of
# records in well under a second for the 12 MiB of pipelined requests, both
# sides copied): their losses must be counted, not absent.
FLOODS = {"pipelining-12MiB"}


def phases(ports, short, fds):
    """(name, action returning how many units it sent, must bound memory) in order."""
    k = 10 if short else 1
    t = 6 if short else 60  # seconds a phase may run at most

    def deadline():
        return time.monotonic() + t
    p, h2, garbage, sink = ports["plain"], ports["h2c"], ports["garbage"], ports["sink"]
    return [
        ("idle", lambda: traffic.hold_idle(p, min(20000 // k, fds - 500), 2 if short else 10)),
        ("slowloris", lambda: traffic.slowloris(p, 5000 // k, 2 if short else 10)),
        ("60KB-header-lines", lambda: traffic.long_header_lines(p, 50 // k)),
        ("random-bytes", lambda: traffic.random_bytes([p, h2], 2000 // k, deadline())),
        ("random-replies", lambda: traffic.requests_to_garbage(garbage, 1000 // k, deadline())),
        ("h2-rapid-reset", lambda: traffic.rapid_reset(h2, 500, 20 // k if not short else 2, deadline())),
        ("hpack-far-indexes", lambda: traffic.far_indexes(h2, 2000 // k, deadline())),
        ("h2-random-frames", lambda: traffic.random_frames(h2, 1000 // k, deadline())),
        ("short-connections", None),  # checked by its own spans, below
        ("hpack-amplification", lambda: traffic.hpack_amplification(sink, 2 if short else 40, 16000)),
        ("pipelining-12MiB", lambda: traffic.pipelining(sink, 12 << 20)),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--short", action="store_true", help="reduced phases (under a minute)")
    ap.add_argument("--only", help="comma-separated phase names")
    ap.add_argument("--rss-ceiling-mb", type=float, default=6000, help="kill the tracer above this RSS")
    ap.add_argument("--growth-limit-mb", type=float, default=64,
                    help="a phase fails when the tracer's RSS rises more than this above its level before it")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: the tracer loads BPF programs: run as root")
    if not shutil.which("nginx") or not shutil.which("nghttp"):
        sys.exit("soak: needs nginx and nghttp (make test-deps)")
    # 20,000 idle connections need as many descriptors here and in nginx; a
    # container may cap the hard limit (then the idle phase opens what fits).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (70000, 70000))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    workdir = Path(tempfile.mkdtemp(prefix="l7trace-soak-"))
    ports = {name: free_port() for name in ("plain", "h2c", "garbage", "sink")}
    children, tracer = [], None
    started = time.monotonic()
    try:
        (workdir / "nginx.conf").write_text(NGINX_CONF.format(dir=workdir, fds=fds, plain=ports["plain"], h2c=ports["h2c"]))
        children.append(subprocess.Popen(["nginx", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)]))
        for kind in ("garbage", "sink"):
            children.append(subprocess.Popen([sys.executable, str(HERE / "servers.py"), kind, str(ports[kind])],
                                             stdout=subprocess.DEVNULL))
        receiver_port = free_port()
        children.append(subprocess.Popen([sys.executable, str(RECEIVER), "--port", str(receiver_port),
                                          "--out", str(workdir / "spans.jsonl")], stdout=subprocess.DEVNULL))
        for port in list(ports.values()) + [receiver_port]:
            wait_for_port(port)
        spans = Spans(workdir / "spans.jsonl")

        def start_tracer():
            return Tracer(args.bin, list(ports.values()), f"http://127.0.0.1:{receiver_port}", args.rss_ceiling_mb, workdir)

        tracer = start_tracer()
        n1, n2 = (10, 5) if args.short else (100, 20)
        rows, failed = [], False
        ok, detail = burst(ports, "baseline", spans, n1, n2)
        rows.append(["baseline", "-", f"{tracer.rss:.0f}", f"{tracer.peak:.0f}", f"{tracer.rss:.0f}",
                     "0", "0", "0", "-", "ok" if ok else "FAIL", detail])
        failed |= not ok
        only = set(args.only.split(",")) if args.only else None
        for name, action in phases(ports, args.short, fds):
            if only and name not in only:
                continue
            if not tracer.alive():
                failed |= note_late_death(rows, tracer)
                tracer.stop()
                tracer = start_tracer()
            before_rss, before = tracer.rss, tracer.counters()
            tracer.peak = before_rss
            t0 = time.monotonic()
            if action is None:  # short connections: their own spans are the check
                count = 1000 if args.short else 50000
                sent = traffic.short_connections(ports["plain"], count, time.monotonic() + (20 if args.short else 120),
                                                 "/short")
                time.sleep(1.0)
                ok, detail = exact(spans, "/short/", sent, settle=30)
                detail = f"{sent} in {time.monotonic() - t0:.1f}s: {detail}"
            else:
                sent = action()
                ok, detail = True, ""
            tracer.settle()
            peak = tracer.peak
            note = []
            if not tracer.alive():
                after_rss, after = 0.0, None
                note.append(f"tracer {tracer.death()}")
                ok = False
            else:
                after_rss, after = tracer.rss, tracer.counters()
                if peak - before_rss > args.growth_limit_mb:
                    note.append(f"RSS grew {peak - before_rss:.0f} MB")
                    ok = False
                check_ok, check = burst(ports, name, spans, n1, n2)
                ok &= check_ok
                note.append(("burst " + check) if not detail else detail + "; burst " + check)
            delta = {k: (after[k] - before[k]) if after and before else "?" for k in
                     ("events_lost", "spans_dropped", "parse_errors", "exchanges")}
            if after and delta["events_lost"]:
                if name in FLOODS:
                    note.append("ring-buffer events lost and counted: the flood outran the reader")
                else:
                    ok = False
            rows.append([name, str(sent), f"{before_rss:.0f}", f"{peak:.0f}", f"{after_rss:.0f}",
                         str(delta["events_lost"]), str(delta["spans_dropped"]), str(delta["parse_errors"]),
                         str(delta["exchanges"]), "ok" if ok else "FAIL", "; ".join(n for n in note if n)])
            failed |= not ok
        failed |= note_late_death(rows, tracer)
        tracer.stop()
        header = ["phase", "sent", "rss0 MB", "peak MB", "rss1 MB", "lost ev", "dropped", "parse err",
                  "exchanges", "exact", "notes"]
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header) - 1)]
        for r in [header] + rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
        print(f"soak{' (short)' if args.short else ''}: {time.monotonic() - started:.0f} s, "
              f"{'FAIL' if failed else 'ok'}; logs in {workdir}")
        return 1 if failed else 0
    finally:
        if tracer is not None:
            tracer.stop()
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
