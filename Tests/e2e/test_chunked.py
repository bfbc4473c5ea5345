"""Chunked bodies larger than the capture (`--capture-bytes`, default 4096):
nginx's default gzip, a Node server writing without Content-Length, curl
uploading with Transfer-Encoding: chunked. Every exchange gets its spans on
both sides; the body size is the one the peers saw, or left out when the
framing fell where the kernel did not copy (never a wrong number)."""
import base64
import os
import random
import tempfile
from pathlib import Path

import pytest

from conftest import (CLIENT, SERVER, SERVERS, attrs, free_port, of_kind, run, service, traced, wait_for_port,
                      wait_until)


def text_file(path, size, seed):
    """Text that gzip shrinks by about a quarter only (like the issue's file)."""
    rng = random.Random(seed)
    text = base64.encodebytes(rng.randbytes(size * 3 // 4 + 3)).decode()[:size]
    path.write_text(text)
    path.chmod(0o644)


def readable_directory():
    """A directory nginx's worker (not root) can read; pytest's are root's only."""
    directory = tempfile.TemporaryDirectory(prefix="l7trace-files-")
    os.chmod(directory.name, 0o755)
    return directory


def curl_sizes(*urls, extra=()):
    """One curl process, one keep-alive connection: (status, body bytes received) per URL."""
    outputs = [arg for _ in urls for arg in ("-o", "/dev/null")]
    out = run(["curl", "-sSk", "--http1.1", "--noproxy", "*", "-w", "%{http_code} %{size_download}\n", *extra,
               *outputs, *urls]).stdout.decode()
    return [tuple(int(v) for v in line.split()) for line in out.splitlines()]


def spans_after(receiver, tracer, count):
    assert wait_until(lambda: len(receiver.spans()) >= count, timeout=20)
    tracer.stop()
    return receiver.spans()


def sides(receiver, tracer, n, server_pid=None):
    """The spans once the tracer stops: n SERVER (from `server_pid`, when given) and n CLIENT."""
    spans = spans_after(receiver, tracer, 2 * n)
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert len(servers) == n and len(clients) == n, spans
    if server_pid is not None:
        assert {s["resource"]["process.pid"] for s in servers} == {server_pid}
    return servers, clients


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_nginx_gzip_responses_on_one_connection_get_spans_with_the_size_curl_received(
        processes, receiver, tracers, tmp_path, cert, scheme):
    port, n = free_port(), 5
    files = readable_directory()
    text_file(Path(files.name) / "page.txt", 13_500, seed=13)
    tls = (f"ssl_certificate {cert[0]};", f"ssl_certificate_key {cert[1]};") if scheme == "https" else ()
    processes.nginx(tmp_path, f"127.0.0.1:{port}" + (" ssl" if tls else ""), port, server_lines=tls,
                    files=files.name, gzip=True)
    tracer = traced(tracers, receiver, "--port", str(port))
    url = f"{scheme}://127.0.0.1:{port}/files/page.txt"
    received = curl_sizes(*[url] * n, extra=("-H", "Accept-Encoding: gzip"))
    assert [code for code, _ in received] == [200] * n
    sizes = [size for _, size in received]
    assert all(4096 < size < 13_500 for size in sizes), f"compressed, and larger than the capture: {sizes}"

    servers, clients = sides(receiver, tracer, n)
    assert {service(s) for s in servers} == {"nginx"} and {service(s) for s in clients} == {"curl"}
    assert len({attrs(s)["network.peer.port"] for s in servers}) == 1, "one keep-alive connection"
    for span in servers + clients:
        a = attrs(span)
        assert a["http.response.status_code"] == 200
        assert a["url.scheme" if span["kind"] == SERVER else "url.full"].startswith(scheme)
        assert span["start_time_unix_nano"] <= span["end_time_unix_nano"]
    assert sorted(attrs(s)["http.response.body.size"] for s in clients) == sorted(sizes)
    assert sorted(attrs(s)["http.response.body.size"] for s in servers) == sorted(sizes)


def start_node(processes, port):
    proc = processes.start(["node", str(SERVERS / "chunked_server.js"), str(port)])
    wait_for_port(port)
    return proc


@pytest.mark.parametrize("size", [20_000, 100_000])
def test_a_chunked_node_response_gets_spans_on_both_sides(processes, receiver, tracers, size):
    port, n = free_port(), 3
    node = start_node(processes, port)
    tracer = traced(tracers, receiver, "--port", str(port))
    url = f"http://127.0.0.1:{port}/chunked/{size}"
    assert curl_sizes(*[url] * n) == [(200, size)] * n

    servers, clients = sides(receiver, tracer, n, node.pid)
    for span in servers + clients:
        a = attrs(span)
        assert a["http.response.status_code"] == 200
        assert a["url.path" if span["kind"] == SERVER else "url.full"].endswith(f"/chunked/{size}")
        assert a.get("http.response.body.size", size) == size, "exact, or left out"
    assert all(attrs(s)["http.response.body.size"] == size for s in clients), "curl's reads keep the framing"


@pytest.mark.parametrize("size", [20_000, 100_000])
def test_a_chunked_curl_upload_gets_spans_on_both_sides(processes, receiver, tracers, tmp_path, size):
    port, n = free_port(), 3
    node = start_node(processes, port)
    body = tmp_path / "upload.bin"
    body.write_bytes(random.Random(size).randbytes(size))
    tracer = traced(tracers, receiver, "--port", str(port))
    url = f"http://127.0.0.1:{port}/upload"
    # The body of each answer is the number of bytes Node received.
    one = ["-sS", "--http1.1", "--noproxy", "*", "-w", " %{http_code}\n",
           "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{body}", url]
    # --next: each upload its own options, all on one connection.
    out = run(["curl", *one, *[arg for _ in range(n - 1) for arg in ("--next", *one)]])
    assert out.stdout.decode().split() == [str(size), "201"] * n

    servers, clients = sides(receiver, tracer, n, node.pid)
    for span in servers + clients:
        a = attrs(span)
        assert span["name"].startswith("POST")
        assert a["http.response.status_code"] == 201
        assert a["http.response.body.size"] == len(str(size))
        assert a.get("http.request.body.size", size) == size, "exact, or left out"
    assert all(attrs(s)["http.request.body.size"] == size for s in clients), "curl writes a chunk per call"


def test_chunks_whose_framing_was_not_copied_give_spans_without_a_body_size(processes, receiver, tracers):
    # Ten 2,000-byte chunks in one write: the kernel copies its first 4,096
    # bytes and its last 256; the chunk-size lines between are not seen.
    port, n = free_port(), 3
    node = start_node(processes, port)
    tracer = traced(tracers, receiver, "--port", str(port))
    url = f"http://127.0.0.1:{port}/corked/10/2000"
    assert curl_sizes(*[url] * n) == [(200, 20_000)] * n

    servers, clients = sides(receiver, tracer, n, node.pid)
    for span in servers:
        a = attrs(span)
        assert a["http.response.status_code"] == 200
        assert "http.response.body.size" not in a, "not a guess"
        assert a["l7trace.undecoded"] == ["response_body_size"]
    for span in clients:
        assert attrs(span)["http.response.status_code"] == 200
        assert attrs(span).get("http.response.body.size", 20_000) == 20_000, "exact, or left out"
    stats = [line for line in tracer.stderr_lines if "l7trace: stats:" in line][-1]
    assert "parse errors 0" in stats and "exchanges lost 0" in stats, stats
    assert "body sizes unknown" in stats, stats
