"""Servers whose children are forked without exec: busybox httpd forks a
child per connection (the parent accepts, the child serves the socket on
fds 0 and 1 and exits); Apache's prefork MPM forks its children before
any connection. A child is the same program as its parent: its spans carry
the parent's service name, and each request it serves is one SERVER span
with the status and duration its client saw."""
import time

import pytest

from conftest import CLIENT, SERVER, attrs, curl, free_port, of_kind, service, traced, wait_until


def spans_once_settled(receiver, tracer, expected):
    assert wait_until(lambda: len(receiver.spans()) >= expected)
    time.sleep(0.5)
    tracer.stop()
    return receiver.spans()


def assert_server_spans(servers, service_name, path, count, start, end, scheme="http"):
    assert len(servers) == count, servers
    for span in servers:
        a = attrs(span)
        assert service(span) == service_name, span
        assert span["name"] == f"GET {path}", span
        assert a["http.response.status_code"] == 200, span
        assert a["url.path"] == path and a["url.scheme"] == scheme, span
        assert span["status"].get("code", 0) != 2, span
        assert start <= span["start_time_unix_nano"] < span["end_time_unix_nano"] <= end, "non-zero duration"


def test_busybox_httpd_child_per_connection_gives_one_server_span_per_request(processes, receiver, tracers, tmp_path):
    port, n = free_port(), 5
    (tmp_path / "f.txt").write_text("hello\n")
    httpd = processes.busybox_httpd(port, tmp_path)
    tracer = traced(tracers, receiver, "--port", str(port))

    start = time.time_ns()
    for _ in range(n):
        assert curl(f"http://127.0.0.1:{port}/f.txt") == "200"
    end = time.time_ns()
    spans = spans_once_settled(receiver, tracer, 2 * n)

    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert_server_spans(servers, "busybox", "/f.txt", n, start, end)
    pids = {s["resource"]["process.pid"] for s in servers}
    assert httpd.pid not in pids and len(pids) == n, "each request served by its own child"
    assert len(clients) == n, clients
    for span in clients:
        assert service(span) == "curl"
        assert attrs(span)["http.response.status_code"] == 200
        assert attrs(span)["http.response.body.size"] == 6


def test_busybox_httpd_started_after_the_tracer(processes, receiver, tracers, tmp_path):
    port, n = free_port(), 5
    (tmp_path / "f.txt").write_text("hello\n")
    tracer = traced(tracers, receiver, "--port", str(port))
    httpd = processes.busybox_httpd(port, tmp_path)

    start = time.time_ns()
    for _ in range(n):
        assert curl(f"http://127.0.0.1:{port}/f.txt") == "200"
    end = time.time_ns()
    spans = spans_once_settled(receiver, tracer, 2 * n)

    servers = of_kind(spans, SERVER)
    assert_server_spans(servers, "busybox", "/f.txt", n, start, end)
    assert httpd.pid not in {s["resource"]["process.pid"] for s in servers}
    assert len(of_kind(spans, CLIENT)) == n


@pytest.mark.parametrize("selection", ["pid", "service"])
def test_busybox_httpd_children_are_selected_as_their_parent(processes, receiver, tracers, tmp_path, selection):
    """--pid PARENT selects the children it forks (the kernel passes the verdict on);
    --service selects them by the name they inherit, known before they are gone."""
    port, n = free_port(), 3
    (tmp_path / "f.txt").write_text("hello\n")
    httpd = processes.busybox_httpd(port, tmp_path)
    chosen = ["--pid", str(httpd.pid)] if selection == "pid" else ["--service", "busybox", "--port", str(port)]
    tracer = traced(tracers, receiver, *chosen)

    start = time.time_ns()
    for _ in range(n):
        assert curl(f"http://127.0.0.1:{port}/f.txt") == "200"
    end = time.time_ns()
    spans = spans_once_settled(receiver, tracer, n)

    assert_server_spans(of_kind(spans, SERVER), "busybox", "/f.txt", n, start, end)
    assert of_kind(spans, CLIENT) == [], "curl is not selected"


def run_apache(processes, receiver, tracers, tmp_path, cert=None):
    port, n = free_port(), 5
    scheme = "https" if cert else "http"
    # Traced from before Apache starts: its children are forked (no exec) under the tracer's eyes.
    tracer = traced(tracers, receiver, "--port", str(port))
    apache = processes.apache(tmp_path, port, cert)

    start = time.time_ns()
    for _ in range(n):
        assert curl("-k", f"{scheme}://127.0.0.1:{port}/f.txt") == "200"
    end = time.time_ns()
    spans = spans_once_settled(receiver, tracer, 2 * n)

    servers = of_kind(spans, SERVER)
    assert_server_spans(servers, "apache2", "/f.txt", n, start, end, scheme=scheme)
    assert apache.pid not in {s["resource"]["process.pid"] for s in servers}, "served by the children"
    clients = of_kind(spans, CLIENT)
    assert len(clients) == n, clients
    assert all(attrs(s)["http.response.status_code"] == 200 for s in clients)


def test_apache_prefork_over_http(processes, receiver, tracers, tmp_path):
    run_apache(processes, receiver, tracers, tmp_path)


def test_apache_prefork_over_https(processes, receiver, tracers, tmp_path, cert):
    run_apache(processes, receiver, tracers, tmp_path, cert)
