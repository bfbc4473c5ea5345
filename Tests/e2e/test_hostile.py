"""Hostile traffic to traced ports (issue 21): the tracer survives with
bounded memory, every request it saw is a span or a counted loss, and a
normal request afterwards gives exactly the right spans."""
import socket
import struct
import sys
import threading
import time
import urllib.request

from conftest import (CLIENT, SERVER, SERVERS, attrs, curl, free_port, of_kind, parse_metrics, run, status_kb, traced,
                      wait_for_port, wait_until)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, SETTINGS, CONTINUATION = 0x1, 0x4, 0x9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def amplifying_block(size, prefix=b""):
    """`82 86 84 01 01 68`, a literal with indexing of a 4,000-byte value,
    then `BE` (a 1-byte reference to that 4 KB entry) up to `size` bytes."""
    block = prefix + bytes([0x82, 0x86, 0x84, 0x01, 0x01, 0x68])
    block += bytes([0x40, 0x05]) + b"x-big" + bytes([0x7F, 0xA1, 0x1E]) + b"a" * 4000
    return block + b"\xBE" * (size - len(block))


def rss_kb(pid):
    return status_kb(pid, "VmRSS")


class PeakRSS:
    """Samples a process's RSS every 20 ms until stopped."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, rss_kb(pid), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except (OSError, StopIteration):
                return

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def metrics(port):
    """The tracer's Prometheus counters: {'name{labels}': value}."""
    return parse_metrics(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())


def counter(values, name, **labels):
    key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    return values.get(key, 0)


def send_and_close(port, chunks, pause=0.0):
    """Sends each chunk in its own write (a write larger than the capture
    would be mostly a hole), tolerating a server that hangs up."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        try:
            for chunk in chunks:
                s.sendall(chunk)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        time.sleep(0.3)


def in_writes(data, size=16000):
    return [data[i:i + size] for i in range(0, len(data), size)]


def start_sink(processes):
    port = free_port()
    processes.start([sys.executable, str(SERVERS / "sink_server.py"), str(port)])
    wait_for_port(port)
    return port




def h2c_get(port, path):
    return run(["curl", "-sS", "--noproxy", "*", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                f"http://127.0.0.1:{port}{path}"]).stdout.decode()


def spans_on(spans, port):
    return [s for s in spans if attrs(s).get("server.port") == port]


def attack_tracer(tracers, receiver, *ports):
    """The tracer selecting `ports`, whole HTTP/2 calls up to 16 KiB, metrics on
    and stats every second; with its RSS before the attack and a peak sampler."""
    metrics_port = free_port()
    selection = [arg for port in ports for arg in ("--port", str(port))]
    tracer = traced(tracers, receiver, *selection, "--capture-bytes", "16384",
                    "--metrics-port", str(metrics_port), "--stats-interval", "1")
    time.sleep(1)
    return tracer, metrics_port, rss_kb(tracer.proc.pid), PeakRSS(tracer.proc.pid)


def test_hpack_amplification_to_a_reading_server(processes, receiver, tracers, tmp_path):
    attacked = start_sink(processes)
    normal = processes.nghttpd(tmp_path)
    tracer, metrics_port, before, sampler = attack_tracer(tracers, receiver, attacked, normal)
    start = PREFACE + frame(SETTINGS, 0, 0, b"")
    # The attacks: 64 KiB blocks (one amplifying, eight of BE);
    # a size update to 1 MiB (`3F E1 FF 3F`) first; 40 frames of 16,000 BE.
    big = [frame(HEADERS, END_HEADERS, 1, amplifying_block(64 * 1024))]
    big += [frame(HEADERS, END_HEADERS, 1, b"\xBE" * (64 * 1024))] * 8
    send_and_close(attacked, in_writes(start + b"".join(big)))
    update = [frame(HEADERS, END_HEADERS, 1, amplifying_block(64 * 1024, prefix=b"\x3F\xE1\xFF\x3F"))]
    update += [frame(HEADERS, END_HEADERS, 1, b"\xBE" * (64 * 1024))]
    send_and_close(attacked, in_writes(start + b"".join(update)))
    small = [frame(HEADERS, END_HEADERS, 1, amplifying_block(16000))]
    small += [frame(HEADERS, END_HEADERS, 1, b"\xBE" * 16000)] * 39
    send_and_close(attacked, in_writes(start + b"".join(small)))
    # Every frame of both sides (the attacker's writes, the server's reads) is counted.
    assert wait_until(lambda: counter(metrics(metrics_port), "l7trace_header_fields_omitted_total") > 2 * 600_000,
                      timeout=30), metrics(metrics_port)
    peak = sampler.stop()
    after = rss_kb(tracer.proc.pid)
    print(f"HPACK amplification: RSS before {before} kB, peak {peak} kB, after {after} kB")
    assert tracer.proc.poll() is None, "".join(tracer.stderr_lines)
    # Without the bounds the first connection alone took GBs (each 64 KiB frame ~250 MB).
    assert peak - before < 64 * 1024, (before, peak)
    values = metrics(metrics_port)
    # The 1 MiB size update exceeds the 4,096 bytes the decoding side advertised: refused on both sides.
    assert counter(values, "l7trace_parse_errors_total", protocol="http2", reason="malformed") >= 2, values
    assert counter(values, "l7trace_parse_errors_total", protocol="http1", reason="malformed") == 0, values

    assert h2c_get(normal, "/hello.txt") == "200"
    assert wait_until(lambda: len(spans_on(receiver.spans(), normal)) >= 2)
    tracer.stop()
    spans = receiver.spans()
    ok = spans_on(spans, normal)
    assert len(of_kind(ok, SERVER)) == 1 and len(of_kind(ok, CLIENT)) == 1, ok
    assert all(s["name"] == "GET /hello.txt" and attrs(s)["http.response.status_code"] == 200 for s in ok)
    # The attacker's unanswered GET / (never ended) is all the attacked port gave: no status.
    attack_spans = spans_on(spans, attacked)
    assert all(s["name"] == "GET /" and "http.response.status_code" not in attrs(s) for s in attack_spans), [(s["name"], s["kind"], attrs(s).get("http.response.status_code"), attrs(s).get("l7trace.undecoded")) for s in attack_spans]


def test_hpack_amplification_to_nginx_h2c(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port} http2", port)
    tracer, metrics_port, before, sampler = attack_tracer(tracers, receiver, port)
    start = PREFACE + frame(SETTINGS, 0, 0, b"")
    frames = [frame(HEADERS, END_HEADERS, 1, amplifying_block(16000))]
    frames += [frame(HEADERS, END_HEADERS, 1, b"\xBE" * 16000)] * 39
    send_and_close(port, [start] + frames)
    send_and_close(port, [start, frame(HEADERS, END_HEADERS, 1, amplifying_block(16000, prefix=b"\x3F\xE1\xFF\x3F"))])
    assert wait_until(lambda: counter(metrics(metrics_port), "l7trace_header_fields_omitted_total") > 39 * 15_000,
                      timeout=30), metrics(metrics_port)
    peak = sampler.stop()
    print(f"HPACK amplification to nginx: RSS before {before} kB, peak {peak} kB, after {rss_kb(tracer.proc.pid)} kB")
    assert tracer.proc.poll() is None, "".join(tracer.stderr_lines)
    assert peak - before < 64 * 1024, (before, peak)
    assert counter(metrics(metrics_port), "l7trace_parse_errors_total", protocol="http2", reason="malformed") >= 1

    assert h2c_get(port, "/after") == "200"
    assert wait_until(lambda: any(s["name"] == "GET /after" for s in receiver.spans()) and
                      len([s for s in receiver.spans() if s["name"] == "GET /after"]) >= 2)
    tracer.stop()
    after = [s for s in receiver.spans() if s["name"] == "GET /after"]
    assert len(of_kind(after, SERVER)) == 1 and len(of_kind(after, CLIENT)) == 1, after
    assert all(attrs(s)["http.response.status_code"] == 200 for s in after)


def test_pipelined_flood_without_responses_keeps_memory_bounded(processes, receiver, tracers):
    attacked = start_sink(processes)
    normal = free_port()
    processes.http_server(normal)
    tracer, metrics_port, before, sampler = attack_tracer(tracers, receiver, attacked, normal)
    request = b"GET /pipelined/0123456789 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: flood\r\nAccept: */*\r\n\r\n"
    per_write = 16000 // len(request)
    count = (12 * 1024 * 1024) // (per_write * len(request)) * per_write
    # Paced a little, so that the ring buffer keeps up and the count is exact.
    send_and_close(attacked, [request * per_write] * (count // per_write), pause=0.003)
    expected = 2 * (count - 128)  # both sides queue 128 and drop the rest, counted
    assert wait_until(lambda: counter(metrics(metrics_port), "l7trace_exchanges_lost_total",
                                      protocol="http1", reason="pipeline_overflow") >= expected, timeout=60), \
        {k: v for k, v in metrics(metrics_port).items() if "lost" in k or "parse" in k}
    peak = sampler.stop()
    after = rss_kb(tracer.proc.pid)
    values = metrics(metrics_port)
    lost = counter(values, "l7trace_exchanges_lost_total", protocol="http1", reason="pipeline_overflow")
    events_lost = counter(values, "l7trace_events_lost_total")
    print(f"pipelining flood ({count} requests, 12 MiB): RSS before {before} kB, peak {peak} kB, after {after} kB; "
          f"pipeline_overflow {lost:.0f}, events lost {events_lost:.0f}")
    assert tracer.proc.poll() is None, "".join(tracer.stderr_lines)
    assert peak - before < 32 * 1024, (before, peak)
    assert events_lost == 0 and lost == expected, values

    assert curl(f"http://127.0.0.1:{normal}/fine") == "200"
    assert wait_until(lambda: len(spans_on(receiver.spans(), normal)) >= 2)
    tracer.stop()
    spans = receiver.spans()
    ok = spans_on(spans, normal)
    assert len(of_kind(ok, SERVER)) == 1 and len(of_kind(ok, CLIENT)) == 1, ok
    # The sink never answered; at close the 128 queued requests of each side end unanswered.
    assert len(spans_on(spans, attacked)) == 2 * 128
