"""HTTPS end to end: OpenSSL uprobes on real servers and clients (nginx,
curl, Python's ssl module, openssl s_server/s_client), spans decoded by
the official opentelemetry-proto package. Certificates are made per test."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import (CLIENT, SERVER, SERVERS, attrs, free_port, of_kind, parse_metrics, run, service, traced, wait_for_port,
                      wait_until)

LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3"


def start_https_server(processes, port, cert, env=None):
    proc = processes.start([sys.executable, str(SERVERS / "https_server.py"), str(port), *cert],
                           env=env, cwd=str(SERVERS))
    wait_for_port(port)
    return proc


def curl_https(*urls, extra=()):
    """One curl process, one keep-alive connection for all the URLs."""
    outputs = [arg for _ in urls for arg in ("-o", "/dev/null")]
    out = run(["curl", "-sSk", "--noproxy", "*", "-w", "%{http_code}\n", *extra, *outputs, *urls]).stdout.decode()
    return out.split()


def stderr_has(tracer, text):
    return any(text in line for line in tracer.stderr_lines)


def test_curl_to_nginx_over_https_gives_server_and_client_spans(processes, receiver, tracers, tmp_path, cert):
    port = free_port()
    nginx = processes.nginx(tmp_path, f"127.0.0.1:{port} ssl", port, worker_connections=256, keepalive_requests=1000,
                    server_lines=(f"ssl_certificate {cert[0]};", f"ssl_certificate_key {cert[1]};"))
    tracer = traced(tracers, receiver, "--port", str(port))
    assert stderr_has(tracer, f"l7trace: attached TLS probes to {LIBSSL} (SSL_read, SSL_write, SSL_read_ex, SSL_write_ex, SSL_do_handshake)")

    start = time.time_ns()
    for item in (1, 2, 3):
        assert curl_https(f"https://127.0.0.1:{port}/orders/{item}?x=1") == ["200"]
    end = time.time_ns()
    assert wait_until(lambda: len(receiver.spans()) >= 6)
    time.sleep(0.5)
    tracer.stop()

    spans = receiver.spans()
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert len(servers) == 3 and len(clients) == 3, spans
    for span in servers:
        a = attrs(span)
        assert service(span) == "nginx"
        assert span["name"] == "GET /orders/*"
        assert a["url.scheme"] == "https"
        assert a["url.path"] in ("/orders/1", "/orders/2", "/orders/3")
        assert a["url.query"] == "x=1"
        assert a["http.response.status_code"] == 200
        assert a["server.port"] == port
        assert a["user_agent.original"].startswith("curl/")
        assert start <= span["start_time_unix_nano"] <= span["end_time_unix_nano"] <= end
    for span in clients:
        a = attrs(span)
        assert service(span) == "curl"
        assert span["name"] == "GET /orders/*"
        assert a["url.full"].startswith(f"https://127.0.0.1:{port}/orders/")
        assert a["http.response.status_code"] == 200
        assert a["http.response.body.size"] == 6
        assert start <= span["start_time_unix_nano"] <= span["end_time_unix_nano"] <= end
    assert {s["resource"]["process.pid"] for s in servers} != {nginx.pid}, "served by the worker, not the master"


def test_keep_alive_https_gives_one_span_per_request_on_each_side(processes, receiver, tracers, tmp_path, cert):
    port, n = free_port(), 40
    processes.nginx(tmp_path, f"127.0.0.1:{port} ssl", port, worker_connections=256, keepalive_requests=1000,
                    server_lines=(f"ssl_certificate {cert[0]};", f"ssl_certificate_key {cert[1]};"))
    tracer = traced(tracers, receiver, "--port", str(port))
    codes = curl_https(*[f"https://127.0.0.1:{port}/k/{i}" for i in range(n)])
    assert codes == ["200"] * n
    assert wait_until(lambda: len(receiver.spans()) >= 2 * n)
    time.sleep(0.5)
    tracer.stop()

    spans = receiver.spans()
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert len(servers) == n and len(clients) == n
    assert sorted(attrs(s)["url.path"] for s in servers) == sorted(f"/k/{i}" for i in range(n))
    assert len({attrs(s)["network.peer.port"] for s in servers}) == 1, "one connection"
    assert all(attrs(s)["url.scheme"] == "https" for s in servers)
    assert all(attrs(s)["url.full"].startswith("https://") for s in clients)


def test_python_client_and_server_use_the_ex_functions(processes, receiver, tracers, cert):
    port, n = free_port(), 5
    server = start_https_server(processes, port, cert)
    tracer = traced(tracers, receiver, "--port", str(port))
    out = run([sys.executable, str(SERVERS / "https_client.py"), str(port), str(n), "/py/"]).stdout.decode()
    assert out.split() == ["200"] * n
    assert wait_until(lambda: len(receiver.spans()) >= 2 * n)
    time.sleep(0.5)
    tracer.stop()

    spans = receiver.spans()
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert len(servers) == n and len(clients) == n, spans
    for span in servers:
        assert span["resource"]["process.pid"] == server.pid
        assert attrs(span)["url.scheme"] == "https"
        assert attrs(span)["http.response.status_code"] == 200
        assert attrs(span)["http.response.body.size"] == 2
    assert sorted(attrs(s)["url.path"] for s in servers) == [f"/py/{i}" for i in range(n)]
    for span in clients:
        assert attrs(span)["url.full"].startswith(f"https://127.0.0.1:{port}/py/")
        assert attrs(span)["http.response.status_code"] == 200


def test_openssl_s_client_and_s_server(processes, receiver, tracers, cert, tmp_path):
    """openssl's own tools as the second implementation on each side:
    s_client → the Python server, and curl → s_server, which answers with
    whatever its stdin gives it."""
    port, other = free_port(), free_port()
    start_https_server(processes, port, cert)
    server_out = tmp_path / "s_server.out"
    s_server = processes.start(["openssl", "s_server", "-quiet", "-accept", str(other), "-cert", cert[0],
                                "-key", cert[1]], stdin=subprocess.PIPE, stdout=open(server_out, "wb"))
    wait_for_port(other)
    tracer = traced(tracers, receiver, "--port", str(port), "--port", str(other))

    # s_client → Python server.
    client_out = tmp_path / "s_client.out"
    s_client = processes.start(["openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{port}"],
                               stdin=subprocess.PIPE, stdout=open(client_out, "wb"))
    s_client.stdin.write(f"GET /from-s-client HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    s_client.stdin.flush()
    assert wait_until(lambda: b"\r\n\r\nok" in client_out.read_bytes())

    # curl → s_server: answer once the request has arrived.
    reply = subprocess.Popen(["curl", "-sSk", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                              f"https://127.0.0.1:{other}/from-curl"], stdout=subprocess.PIPE)
    assert wait_until(lambda: b"GET /from-curl" in server_out.read_bytes())
    s_server.stdin.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    s_server.stdin.flush()
    assert reply.communicate(timeout=30)[0] == b"200"

    assert wait_until(lambda: len(receiver.spans()) >= 4)
    time.sleep(0.5)
    tracer.stop()
    spans = receiver.spans()
    by = {("openssl" if service(s) == "openssl" else service(s), s["kind"]): s for s in spans}
    assert len(spans) == 4, spans
    python_server = [s for s in of_kind(spans, SERVER) if service(s) != "openssl"]
    assert len(python_server) == 1
    assert attrs(by[("openssl", CLIENT)])["url.full"] == f"https://127.0.0.1:{port}/from-s-client"
    assert attrs(by[("openssl", CLIENT)])["http.response.status_code"] == 200
    assert attrs(python_server[0])["url.path"] == "/from-s-client"
    assert attrs(by[("openssl", SERVER)])["url.path"] == "/from-curl"
    assert attrs(by[("openssl", SERVER)])["url.scheme"] == "https"
    assert attrs(by[("openssl", SERVER)])["http.response.body.size"] == 5
    assert attrs(by[("curl", CLIENT)])["url.full"] == f"https://127.0.0.1:{other}/from-curl"


def test_servers_started_before_and_after_the_tracer_are_both_traced(processes, receiver, tracers, cert, tmp_path):
    """The one started before is found by the scan at start; the one started
    after maps its own copy of libssl (a file no other process maps), which
    is found when it execs and announced on its own line."""
    before, after = free_port(), free_port()
    start_https_server(processes, before, cert)
    tracer = traced(tracers, receiver, "--port", str(before), "--port", str(after))

    private = tmp_path / "lib"
    private.mkdir()
    shutil.copy(LIBSSL, private / "libssl.so.3")
    late = start_https_server(processes, after, cert, env={"LD_LIBRARY_PATH": str(private)})
    line = f"l7trace: attached TLS probes to {private}/libssl.so.3 (SSL_read, SSL_write, SSL_read_ex, SSL_write_ex, SSL_do_handshake)"
    assert wait_until(lambda: stderr_has(tracer, line), timeout=10), "".join(tracer.stderr_lines)
    assert f"{private}/libssl.so.3" in (lambda p: open(f"/proc/{p}/maps").read())(late.pid)

    assert curl_https(f"https://127.0.0.1:{before}/before") == ["200"]
    assert curl_https(f"https://127.0.0.1:{after}/after") == ["200"]
    assert wait_until(lambda: len(of_kind(receiver.spans(), SERVER)) >= 2)
    time.sleep(0.5)
    tracer.stop()
    servers = of_kind(receiver.spans(), SERVER)
    assert sorted(attrs(s)["url.path"] for s in servers) == ["/after", "/before"]
    assert all(attrs(s)["url.scheme"] == "https" for s in servers)
    assert next(s for s in servers if attrs(s)["url.path"] == "/after")["resource"]["process.pid"] == late.pid


def test_large_https_upload_and_download(processes, receiver, tracers, cert, tmp_path):
    port = free_port()
    start_https_server(processes, port, cert)
    tracer = traced(tracers, receiver, "--port", str(port))
    body = tmp_path / "upload.bin"
    body.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    assert curl_https(f"https://127.0.0.1:{port}/upload", extra=("--data-binary", f"@{body}")) == ["201"]
    assert curl_https(f"https://127.0.0.1:{port}/bytes/2000000") == ["200"]
    assert wait_until(lambda: len(receiver.spans()) >= 4)
    time.sleep(1)
    tracer.stop()

    spans = receiver.spans()
    assert len(spans) == 4, [s["name"] for s in spans]
    for kind in (SERVER, CLIENT):
        upload = [s for s in of_kind(spans, kind) if s["name"].startswith("POST")]
        download = [s for s in of_kind(spans, kind) if s["name"].startswith("GET")]
        assert len(upload) == 1 and len(download) == 1
        assert attrs(upload[0])["http.request.body.size"] == 3 * 1024 * 1024 + 17
        assert attrs(upload[0])["http.response.status_code"] == 201
        assert attrs(download[0])["http.response.body.size"] == 2000000
        assert attrs(download[0])["http.response.status_code"] == 200


def test_tls_the_tracer_cannot_see_is_told_once_and_gives_no_garbage(processes, receiver, tracers, cert, tmp_path):
    """gnutls-cli does its TLS in GnuTLS: no probe sees its plaintext. The
    user gets one line naming it; its ciphertext never becomes a span."""
    if not shutil.which("gnutls-cli"):
        pytest.fail("gnutls-cli is missing: run `make test-deps` (package gnutls-bin)")
    port = free_port()
    start_https_server(processes, port, cert)
    tracer = traced(tracers, receiver, "--port", str(port))
    warning = f"speaks TLS on port {port} that l7trace cannot read (GnuTLS (libgnutls.so.30"
    for i in range(2):
        out = tmp_path / f"gnutls-{i}.out"
        client = processes.start(["gnutls-cli", "--insecure", "-p", str(port), "127.0.0.1"],
                                 stdin=subprocess.PIPE, stdout=open(out, "wb"))
        client.stdin.write(f"GET /gnutls/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        client.stdin.flush()
        assert wait_until(lambda: b"200 OK" in out.read_bytes())
        # Told at its first request, while it is still connected.
        assert wait_until(lambda: stderr_has(tracer, warning), timeout=10), "".join(tracer.stderr_lines)
        client.stdin.close()
        client.wait(timeout=30)
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    time.sleep(1)
    tracer.stop()

    warnings = [line for line in tracer.stderr_lines if "cannot read" in line]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("l7trace: warning: gnutls-cli (pid "), warnings[0]
    spans = receiver.spans()
    # The Python server's side is plaintext through OpenSSL; the client's is not seen at all.
    assert len(spans) == 2 and of_kind(spans, CLIENT) == [], spans
    assert sorted(attrs(s)["url.path"] for s in spans) == ["/gnutls/0", "/gnutls/1"]


def test_a_client_with_openssl_linked_in_statically_gets_the_probes_itself(processes, receiver, tracers, cert, tmp_path):
    """Its SSL_read is defined in its own full symbol table (no libssl is
    mapped): found by reading the ELF symbol tables at exec, the executable
    itself gets the probes, and its requests give client spans."""
    static_libs = [f"/usr/lib/x86_64-linux-gnu/{name}.a" for name in ("libssl", "libcrypto")]
    if not all(os.path.exists(lib) for lib in static_libs) or not shutil.which("cc"):
        pytest.fail("libssl.a or cc is missing: run `make test-deps` (packages libssl-dev, gcc)")
    client = tmp_path / "static-tls-client"
    run(["cc", "-O1", "-o", str(client), str(SERVERS / "static_tls_client.c"), *static_libs, "-lpthread", "-ldl"])
    assert "libssl" not in run(["ldd", str(client)]).stdout.decode()
    port = free_port()
    start_https_server(processes, port, cert)
    tracer = traced(tracers, receiver, "--port", str(port))

    run([str(client), str(port), "/static"])
    assert wait_until(lambda: len(of_kind(receiver.spans(), CLIENT)) >= 1)
    time.sleep(0.5)
    tracer.stop()
    assert stderr_has(tracer, f"l7trace: attached TLS probes to {client} (SSL_read, SSL_write, SSL_read_ex, SSL_write_ex, SSL_do_handshake)"), \
        "".join(tracer.stderr_lines)
    clients = of_kind(receiver.spans(), CLIENT)
    assert len(clients) == 1, clients
    assert service(clients[0]) == "static-tls-client"
    assert attrs(clients[0])["url.full"] == f"https://127.0.0.1:{port}/static"
    assert attrs(clients[0])["http.response.status_code"] == 200


def test_a_keep_alive_connection_opened_before_the_tracer_loses_no_request_silently(processes, receiver, tracers, cert):
    """The server thread is already inside SSL_read when the probes attach:
    that call's entry was never seen, so its plaintext cannot be had. The
    request is counted as lost (http1/tls_in_flight_at_start), never silent;
    every later request on the connection gives its span."""
    port = free_port()
    start_https_server(processes, port, cert)
    client = processes.start([sys.executable, str(SERVERS / "slow_keepalive_client.py"), "--tls", str(port),
                              "/before", *[f"/after/{i}" for i in range(5)]],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert client.stdout.readline().strip() == "200"
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    time.sleep(0.5)  # the server thread sits in SSL_read the whole time
    for _ in range(5):
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "200"

    def metrics():
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
            return parse_metrics(response.read().decode())

    lost = 'l7trace_exchanges_lost_total{protocol="http1",reason="tls_in_flight_at_start"}'
    assert wait_until(lambda: len(of_kind(receiver.spans(), SERVER)) + metrics().get(lost, 0) >= 5)
    time.sleep(0.5)
    values = metrics()
    tracer.stop()
    servers = sorted(attrs(s)["url.path"] for s in of_kind(receiver.spans(), SERVER))
    clients = sorted(attrs(s)["url.path"] for s in of_kind(receiver.spans(), CLIENT))
    assert clients == [f"/after/{i}" for i in range(5)]
    # 5 of 5: 4 spans and the first request counted with its reason; nothing else lost or invented.
    assert values[lost] == 1 and servers == [f"/after/{i}" for i in range(1, 5)], (servers, values)
    others = {k: v for k, v in values.items() if v and "exchanges_lost" in k and k != lost}
    assert others == {}, others
    assert not any("cannot read" in line for line in tracer.stderr_lines)
