"""Every request the tracer saw bytes of is a span or a counted loss, by
protocol and reason (issue 21 item 1), checked against what the client sent."""
import socket
import time

import sys

from conftest import (CLIENT, SERVER, SERVERS, attrs, free_port, of_kind, read_http1_responses, traced, wait_for_port,
                      wait_until)
from test_hostile import CONTINUATION, END_HEADERS, END_STREAM, HEADERS, PREFACE, SETTINGS, counter, frame, h2c_get, metrics


def losses(values, protocol):
    """Requests of `protocol` the tracer counted as lost, any reason."""
    return sum(v for k, v in values.items()
               if (k.startswith("l7trace_exchanges_lost_total") or k.startswith("l7trace_parse_errors_total"))
               and f'protocol="{protocol}"' in k)


def reasons(values):
    return {k: v for k, v in values.items() if v and ("lost" in k or "parse_errors" in k or "omitted" in k)}


def test_300_pipelined_requests_are_spans_or_counted(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port}", port, keepalive_requests=1000)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--capture-bytes", "16384",
                    "--metrics-port", str(metrics_port))
    request = f"GET /pipelined HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as s:
        # In writes and reads the capture keeps whole: the client sees every message.
        for i in range(0, 300, 100):
            s.sendall(request * 100)
        assert read_http1_responses(s, 300, read_size=16384) == 300
    assert wait_until(lambda: len(receiver.spans()) + losses(metrics(metrics_port), "http1") >= 600, timeout=20)
    time.sleep(1)
    values = metrics(metrics_port)
    tracer.stop()
    spans = receiver.spans()
    print(f"300 pipelined: {len(of_kind(spans, SERVER))} server spans, {len(of_kind(spans, CLIENT))} client spans, "
          f"losses {reasons(values)}")
    assert counter(values, "l7trace_events_lost_total") == 0
    # Both sides saw 300 requests: each is a span or a counted loss.
    assert len(spans) + losses(values, "http1") == 600, reasons(values)
    # The client queued 300 at once: 128 wait for their responses, the others overflow.
    assert len(of_kind(spans, CLIENT)) == 128
    assert counter(values, "l7trace_exchanges_lost_total", protocol="http1", reason="pipeline_overflow") >= 172
    assert all(attrs(s)["http.request.method"] == "GET" and attrs(s)["http.response.status_code"] == 200 for s in spans)
    # The stats line at exit says the same.
    final = [line for line in tracer.stderr_lines if "l7trace: stats: " in line][-1]
    overflow = counter(values, "l7trace_exchanges_lost_total", protocol="http1", reason="pipeline_overflow")
    assert f"exchanges lost http1/pipeline_overflow {overflow:.0f}" in final, final


def test_a_url_longer_than_the_capture_on_keep_alive_is_counted(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port}", port)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    long_url = "/" + "u" * 6000
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET {long_url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert read_http1_responses(s, 1) == 1
        s.sendall(b"GET /next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_http1_responses(s, 1) == 1
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    assert wait_until(lambda: losses(metrics(metrics_port), "http1") >= 2)
    time.sleep(0.5)
    values = metrics(metrics_port)
    tracer.stop()
    spans = receiver.spans()
    print(f"6,000-byte URL: spans {[s['name'] for s in spans]}, losses {reasons(values)}")
    assert sorted(s["kind"] for s in spans) == [SERVER, CLIENT]
    assert all(attrs(s)["url.path"] == "/next" if "url.path" in attrs(s) else attrs(s)["url.full"].endswith("/next")
               for s in spans)
    # Each side saw two requests: one span, one loss (the capture cut the long line).
    assert counter(values, "l7trace_parse_errors_total", protocol="http1", reason="hole") == 2, reasons(values)
    assert losses(values, "http1") == 2, reasons(values)


def test_endless_continuation_is_counted_under_http2(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port} http2", port)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--capture-bytes", "16384",
                    "--metrics-port", str(metrics_port))
    # GET / (static entries), then 10,000 CONTINUATIONs of 60 bytes: a 600 KB header block.
    wire = PREFACE + frame(SETTINGS, 0, 0, b"") + frame(HEADERS, END_STREAM, 1, bytes([0x82, 0x86, 0x84, 0x41, 0x01, 0x68]))
    wire += b"".join(frame(CONTINUATION, END_HEADERS if n == 9_999 else 0, 1, b"\x82" * 60) for n in range(10_000))
    with socket.create_connection(("127.0.0.1", port)) as s:
        try:
            for i in range(0, len(wire), 16000):
                s.sendall(wire[i:i + 16000])
        except (BrokenPipeError, ConnectionResetError):
            pass  # nginx gave up on the block first
        time.sleep(0.5)
    assert wait_until(lambda: losses(metrics(metrics_port), "http2") >= 2)
    assert h2c_get(port, "/after") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    time.sleep(0.5)
    values = metrics(metrics_port)
    tracer.stop()
    spans = receiver.spans()
    print(f"endless CONTINUATION: spans {[s['name'] for s in spans]}, losses {reasons(values)}")
    # The flood's request is a loss on each side, counted under http2; /after is a span on each side.
    assert losses(values, "http2") == 2, reasons(values)
    assert losses(values, "http1") == 0, reasons(values)
    assert sorted(s["kind"] for s in spans) == [SERVER, CLIENT], [s["name"] for s in spans]
    assert all(s["name"] == "GET /after" for s in spans)


def test_streams_above_the_servers_goaway_give_no_server_span(processes, receiver, tracers):
    port = free_port()
    processes.start([sys.executable, str(SERVERS / "goaway_server.py"), str(port)])
    wait_for_port(port)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    # GET /a on stream 1 and GET /b on stream 3 (:authority h), in one write.
    request = lambda path: bytes([0x82, 0x86, 0x41, 0x01, 0x68, 0x04, len(path)]) + path.encode()
    wire = PREFACE + frame(SETTINGS, 0, 0, b"")
    wire += frame(HEADERS, END_STREAM | END_HEADERS, 1, request("/a")) + frame(HEADERS, END_STREAM | END_HEADERS, 3, request("/b"))
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(wire)
        while s.recv(65536):
            pass
    assert wait_until(lambda: len(receiver.spans()) >= 3)
    assert wait_until(lambda: counter(metrics(metrics_port), "l7trace_exchanges_lost_total", protocol="http2", reason="refused") >= 1)
    time.sleep(0.5)
    values = metrics(metrics_port)
    tracer.stop()
    spans = receiver.spans()
    print(f"GOAWAY: {[(s['name'], s['kind'], attrs(s).get('error.type')) for s in spans]}, losses {reasons(values)}")
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    # The server processed stream 1 only: one server span; the client sees /b refused.
    assert [s["name"] for s in servers] == ["GET /a"], servers
    assert sorted(s["name"] for s in clients) == ["GET /a", "GET /b"], clients
    refused = next(s for s in clients if s["name"] == "GET /b")
    assert "http.response.status_code" not in attrs(refused) and attrs(refused).get("error.type")
    assert counter(values, "l7trace_exchanges_lost_total", protocol="http2", reason="refused") == 1
