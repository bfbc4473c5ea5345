"""The "cannot read" warning is given when it is true and at the moment it
becomes true: a traced connection does a TLS handshake and then carries
application data that no probe gave the plaintext of. Never because of
what a process merely maps (curl maps GnuTLS through librtmp; every Go
program links crypto/tls)."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import (CLIENT, SERVER, SERVERS, attrs, curl, free_port, of_kind, parse_metrics, run, traced,
                      wait_for_port, wait_until)

CANNOT_READ = "that l7trace cannot read"


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return parse_metrics(response.read().decode())


def unreadable(metrics_port):
    return scrape(metrics_port).get("l7trace_tls_connections_unreadable_total", 0)


def warnings(tracer):
    return [line for line in tracer.stderr_lines if CANNOT_READ in line or "GnuTLS" in line or "crypto/tls" in line]


def test_curl_over_plaintext_and_https_to_nginx_gets_no_warning(processes, receiver, tracers, tmp_path, cert):
    """Debian's curl maps libgnutls (through librtmp) but speaks OpenSSL, which is traced."""
    plain, tls = free_port(), free_port()
    (tmp_path / "plain").mkdir()
    (tmp_path / "tls").mkdir()
    processes.nginx(tmp_path / "plain", f"127.0.0.1:{plain}", plain)
    processes.nginx(tmp_path / "tls", f"127.0.0.1:{tls} ssl", tls,
                    server_lines=(f"ssl_certificate {cert[0]};", f"ssl_certificate_key {cert[1]};"))
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(plain), "--port", str(tls), "--metrics-port", str(metrics_port))
    # Still running while its connections are looked at: several requests, paced.
    urls = [f"http://127.0.0.1:{plain}/p/{i}" for i in range(3)] + [f"https://127.0.0.1:{tls}/s/{i}" for i in range(3)]
    out = run(["curl", "-sSk", "--noproxy", "*", "--rate", "10/s", "-w", "%{http_code}\n",
               *[a for _ in urls for a in ("-o", "/dev/null")], *urls]).stdout.decode().split()
    assert out == ["200"] * 6
    assert wait_until(lambda: len(of_kind(receiver.spans(), CLIENT)) >= 6 and len(of_kind(receiver.spans(), SERVER)) >= 6)
    time.sleep(1)
    assert unreadable(metrics_port) == 0
    tracer.stop()
    assert warnings(tracer) == [], warnings(tracer)
    schemes = sorted(attrs(s)["url.scheme"] for s in of_kind(receiver.spans(), SERVER))
    assert schemes == ["http"] * 3 + ["https"] * 3


def test_client_certificates_over_tls13_are_handshake_not_unreadable_data(processes, receiver, tracers, tmp_path, cert):
    """nginx asking for a client certificate, curl giving one: the client's
    encrypted flight has three records, not one — still the handshake."""
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port} ssl", port,
                    server_lines=(f"ssl_certificate {cert[0]};", f"ssl_certificate_key {cert[1]};",
                                  f"ssl_client_certificate {cert[0]};", "ssl_verify_client on;",
                                  "ssl_protocols TLSv1.3;"))
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    urls = [f"https://127.0.0.1:{port}/mtls/{i}" for i in range(3)]
    out = run(["curl", "-sSk", "--noproxy", "*", "--cert", cert[0], "--key", cert[1], "-w", "%{http_code}\n",
               *[a for _ in urls for a in ("-o", "/dev/null")], *urls]).stdout.decode().split()
    assert out == ["200"] * 3
    # nginx may read the client's Finished and first request in one call inside SSL_do_handshake;
    # that request's SSL_read is then served from OpenSSL's buffer with no socket call. The
    # SSL_do_handshake probe tied the SSL object to its socket already: every request has its span.
    done = wait_until(lambda: len(of_kind(receiver.spans(), SERVER)) >= 3 and len(of_kind(receiver.spans(), CLIENT)) >= 3)
    assert done, ([(s["kind"], attrs(s)["url.path"]) for s in receiver.spans()], scrape(metrics_port),
                  "".join(tracer.stderr_lines))
    time.sleep(1)
    assert unreadable(metrics_port) == 0
    tracer.stop()
    assert warnings(tracer) == [], warnings(tracer)
    assert len(of_kind(receiver.spans(), SERVER)) == 3


def test_a_plaintext_go_server_gets_no_crypto_tls_warning(processes, receiver, tracers, tmp_path):
    if not shutil.which("go"):
        pytest.fail("go is missing: run `make test-deps` (package golang-go)")
    binary = tmp_path / "go-http-server"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GO111MODULE": "off", "CGO_ENABLED": "0"}
    subprocess.run(["go", "build", "-o", str(binary), str(SERVERS / "go_http_server.go")], check=True,
                   capture_output=True, timeout=300, env=env, cwd=str(tmp_path))
    port = free_port()
    processes.start([str(binary), str(port)])
    wait_for_port(port)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    for i in range(3):
        assert curl(f"http://127.0.0.1:{port}/go/{i}") == "200"
    assert wait_until(lambda: len(of_kind(receiver.spans(), SERVER)) >= 3)
    time.sleep(1)
    assert unreadable(metrics_port) == 0
    tracer.stop()
    assert warnings(tracer) == [], warnings(tracer)
    servers = of_kind(receiver.spans(), SERVER)
    assert sorted(attrs(s)["url.path"] for s in servers) == ["/go/0", "/go/1", "/go/2"]


def test_node_https_is_told_at_its_first_request_and_counted(processes, receiver, tracers, tmp_path, cert):
    """Node.js: OpenSSL inside the executable through memory BIOs — its SSL
    calls are probed but never tied to a socket."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.fail("node is missing: run `make test-deps` (package nodejs)")
    port = free_port()
    server = processes.start([node, str(SERVERS / "node_https_server.js"), str(port), *cert])
    wait_for_port(port)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    expected = f"node (pid {server.pid}) speaks TLS on port {port} {CANNOT_READ}"
    for round in range(2):
        urls = [f"https://127.0.0.1:{port}/n/{round}/{i}" for i in range(3)]
        out = run(["curl", "-sSk", "--noproxy", "*", "-w", "%{http_code}\n",
                   *[a for _ in urls for a in ("-o", "/dev/null")], *urls]).stdout.decode().split()
        assert out == ["200"] * 3
        # Told while the tracer runs, right after the handshake and first request.
        assert wait_until(lambda: any(expected in line for line in tracer.stderr_lines), timeout=5), \
            "".join(tracer.stderr_lines)
    assert wait_until(lambda: unreadable(metrics_port) >= 2, timeout=5)
    assert unreadable(metrics_port) == 2, "one per connection (node's side; curl's is read)"
    assert wait_until(lambda: len(of_kind(receiver.spans(), CLIENT)) >= 6)
    tracer.stop()
    lines = warnings(tracer)
    assert len(lines) == 1, lines
    assert expected in lines[0] and "OpenSSL" in lines[0], lines[0]
    # curl's side is OpenSSL over its socket: client spans, and no warning about curl.
    assert len(of_kind(receiver.spans(), CLIENT)) == 6
    assert of_kind(receiver.spans(), SERVER) == []


def test_asyncio_https_is_told_as_openssl_through_memory_bios(processes, receiver, tracers, cert):
    """aiohttp and uvicorn serve TLS through asyncio's memory BIOs: the
    probes see the SSL calls but cannot tie them to a socket."""
    port = free_port()
    server = processes.start([sys.executable, str(SERVERS / "asyncio_https_server.py"), str(port), *cert])
    wait_for_port(port)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    urls = [f"https://127.0.0.1:{port}/a/{i}" for i in range(3)]
    out = run(["curl", "-sSk", "--noproxy", "*", "-w", "%{http_code}\n",
               *[a for _ in urls for a in ("-o", "/dev/null")], *urls]).stdout.decode().split()
    assert out == ["200"] * 3
    expected = f"(pid {server.pid}) speaks TLS on port {port} {CANNOT_READ} (OpenSSL through memory BIOs)"
    assert wait_until(lambda: any(expected in line for line in tracer.stderr_lines), timeout=5), \
        "".join(tracer.stderr_lines)
    assert wait_until(lambda: unreadable(metrics_port) == 1, timeout=5)
    tracer.stop()
    assert len(warnings(tracer)) == 1, warnings(tracer)
    assert of_kind(receiver.spans(), SERVER) == [] and len(of_kind(receiver.spans(), CLIENT)) == 3


def test_grpcio_over_tls_is_told_at_the_handshake_and_counted(processes, receiver, tracers, tmp_path, cert):
    """grpcio: BoringSSL linked into its extension module, through memory BIOs."""
    port = free_port()
    server = processes.start([sys.executable, str(SERVERS / "grpc_server.py"), str(port), *cert],
                             env={"OTEL_SERVICE_NAME": "grpc-tls-server"})
    wait_for_port(port)
    metrics_port = free_port()
    tracer = traced(tracers, receiver, "--port", str(port), "--metrics-port", str(metrics_port))
    client = processes.start([sys.executable, str(SERVERS / "grpc_client.py"), str(port), "mid", "1"],
                             env={"GRPC_TLS_CERT": cert[0], "PATH": "/usr/bin:/bin"},
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert client.stdout.readline().split() == [b"Unary", b"OK"]
    # The channel is still open: the line is there already.
    expected = f"speaks TLS on port {port} {CANNOT_READ} (BoringSSL in grpcio"
    assert wait_until(lambda: any(expected in line for line in tracer.stderr_lines), timeout=5), \
        "".join(tracer.stderr_lines)
    assert wait_until(lambda: unreadable(metrics_port) >= 1, timeout=5)
    client.stdin.write(b"go\n")
    client.stdin.close()
    client.wait(timeout=30)
    time.sleep(0.5)
    count = unreadable(metrics_port)
    tracer.stop()
    lines = warnings(tracer)
    assert len(lines) == 1, lines  # client and server are the same executable
    assert f"(pid {server.pid})" in lines[0] or f"(pid {client.pid})" in lines[0], lines[0]
    assert count in (1, 2), count  # the connection seen from one or both ends
    assert receiver.spans() == []
