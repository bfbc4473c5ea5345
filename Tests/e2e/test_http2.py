"""HTTP/2 and gRPC end to end: real probes, real servers and clients
(nghttpd, curl, h2load, Python grpcio over h2c), spans decoded by the
official opentelemetry-proto package."""
import subprocess
import sys
import time

import pytest

from conftest import (CLIENT, SERVER, SERVERS, attrs, free_port, grpc_client, of_kind, run, self_signed_cert, traced,
                      wait_until)

ERROR, UNSET = 2, 0








def test_curl_h2c_prior_knowledge_to_nghttpd(processes, receiver, tracers, tmp_path):
    port = processes.nghttpd(tmp_path)
    tracer = traced(tracers, receiver, "--port", str(port))
    start = time.time_ns()
    for _ in range(3):
        out = run(["curl", "-sS", "--noproxy", "*", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                   f"http://127.0.0.1:{port}/hello.txt"]).stdout.decode()
        assert out == "200 2"
    end = time.time_ns()
    assert wait_until(lambda: len(receiver.spans()) >= 6)
    tracer.stop()
    spans = receiver.spans()
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert len(servers) == 3 and len(clients) == 3, spans
    for span in spans:
        a = attrs(span)
        assert span["name"] == "GET /hello.txt"
        assert a["http.request.method"] == "GET"
        assert a["http.response.status_code"] == 200
        assert a["network.protocol.version"] == "2"
        assert a["server.address"] == "127.0.0.1"
        assert a["server.port"] == port
        assert "l7trace.undecoded" not in a
        assert span["status"]["code"] == UNSET
        assert start <= span["start_time_unix_nano"] <= span["end_time_unix_nano"] <= end
    assert all(attrs(s)["url.full"] == f"http://127.0.0.1:{port}/hello.txt" for s in clients)
    assert all(s["resource"]["service.name"] == "curl" for s in clients)
    assert all(attrs(s)["url.path"] == "/hello.txt" for s in servers)


def test_h2load_many_streams_per_connection(processes, receiver, tracers, tmp_path):
    port = processes.nghttpd(tmp_path)
    tracer = traced(tracers, receiver, "--port", str(port))
    out = run(["h2load", "-n", "300", "-c", "3", "-m", "25", f"http://127.0.0.1:{port}/hello.txt"]).stdout.decode()
    assert "300 succeeded" in out, out
    assert wait_until(lambda: len(receiver.spans()) >= 600, timeout=30)
    tracer.stop()
    spans = receiver.spans()
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert len(servers) == 300 and len(clients) == 300, (len(servers), len(clients))
    assert all(s["name"] == "GET /hello.txt" and attrs(s)["http.response.status_code"] == 200 for s in spans)


def test_grpc_calls_of_every_kind_on_both_sides(processes, receiver, tracers):
    port = processes.grpc_server()
    tracer = traced(tracers, receiver, "--port", str(port))
    results = grpc_client(port, "all")
    assert results == [["Unary", "OK"], ["NotFound", "NOT_FOUND"], ["Internal", "INTERNAL"],
                       ["ServerStream", "OK"], ["ClientStream", "OK"], ["Bidi", "OK"]]
    assert wait_until(lambda: len(receiver.spans()) >= 12)
    tracer.stop()
    spans = receiver.spans()
    expected = {  # method: (code, client status, server status, request messages, response messages)
        "Unary": (0, UNSET, UNSET, 1, 1),
        "NotFound": (5, ERROR, UNSET, 1, 0),
        "Internal": (13, ERROR, ERROR, 1, 0),
        "ServerStream": (0, UNSET, UNSET, 1, 3),
        "ClientStream": (0, UNSET, UNSET, 4, 1),
        "Bidi": (0, UNSET, UNSET, 2, 2),
    }
    assert len(spans) == 12, [(s["name"], s["kind"]) for s in spans]
    for span in spans:
        a = attrs(span)
        method = span["name"].split("/")[-1]
        code, client_status, server_status, requests, responses = expected[method]
        assert span["name"] == f"demo.Echo/{method}"
        assert a["rpc.system"] == "grpc"
        assert a["rpc.service"] == "demo.Echo"
        assert a["rpc.method"] == method
        assert a["rpc.grpc.status_code"] == code
        assert a["l7trace.grpc.request.message_count"] == requests
        assert a["l7trace.grpc.response.message_count"] == responses
        assert "http.request.method" not in a, "no HTTP span for a gRPC call"
        if span["kind"] == CLIENT:
            assert span["status"]["code"] == client_status, span
            assert span["resource"]["service.name"] == "grpc-client"
            assert a["server.port"] == port
        else:
            assert span["status"]["code"] == server_status, span
            assert span["resource"]["service.name"] == "grpc-server"
        if span["status"]["code"] == ERROR:
            assert a["error.type"] in ("NOT_FOUND", "INTERNAL")
    assert len(of_kind(spans, CLIENT)) == 6


def test_grpc_stable_conventions_opt_in(processes, receiver, tracers):
    port = processes.grpc_server()
    tracer = traced(tracers, receiver, "--port", str(port), env={"OTEL_SEMCONV_STABILITY_OPT_IN": "rpc"})
    grpc_client(port, "all")
    assert wait_until(lambda: len(receiver.spans()) >= 12)
    tracer.stop()
    for span in receiver.spans():
        a = attrs(span)
        assert a["rpc.system.name"] == "grpc"
        assert a["rpc.method"] == span["name"]
        assert "rpc.service" not in a and "rpc.grpc.status_code" not in a
        assert a["rpc.status_code"] in ("OK", "NOT_FOUND", "INTERNAL")


def test_large_reply_shares_the_connection_with_concurrent_calls(processes, receiver, tracers):
    port = processes.grpc_server()
    tracer = traced(tracers, receiver, "--port", str(port))
    results = grpc_client(port, "large")
    assert sorted(results) == sorted([["Big", "OK"]] + [["Unary", "OK"]] * 10)
    assert wait_until(lambda: len(receiver.spans()) >= 22, timeout=20)
    tracer.stop()
    spans = receiver.spans()
    for kind in (CLIENT, SERVER):
        names = sorted(s["name"] for s in of_kind(spans, kind))
        assert names == ["demo.Echo/Big"] + ["demo.Echo/Unary"] * 10, (kind, names)
        for s in of_kind(spans, kind):
            assert attrs(s)["rpc.grpc.status_code"] == 0


def test_grpc_channel_opened_before_the_tracer(processes, receiver, tracers):
    """The HPACK tables predate the capture: method names are unknown
    (marked so) until the client's encoder has inserted enough new entries
    to evict the old ones, then exact; never wrong. gRPC's encoder inserts a
    :path the first time it sends it, so a run of calls to methods the
    server lacks turns the table over."""
    port = processes.grpc_server()
    rounds = 60
    client = subprocess.Popen([sys.executable, str(SERVERS / "grpc_client.py"), str(port), "mid", str(rounds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={"OTEL_SERVICE_NAME": "grpc-client", "PATH": "/usr/bin:/bin"})
    try:
        assert [client.stdout.readline().strip() for _ in range(4)] == ["Unary OK"] * 3 + ["ready"]
        tracer = traced(tracers, receiver, "--port", str(port))
        client.stdin.write("go\n")
        client.stdin.flush()
        lines = [client.stdout.readline().strip() for _ in range(2 * rounds + 1)]
        assert lines[-1] == "done", lines
        assert lines[1::2][:rounds] == ["Unary OK"] * rounds
    finally:
        client.wait(timeout=30)
    called = {"demo.Echo/Unary"} | {f"demo.Echo/Probe{i:04d}" + "p" * 40 for i in range(rounds)}
    assert wait_until(lambda: len(receiver.spans()) >= 4 * rounds - 10, timeout=20)
    time.sleep(1)
    tracer.stop()
    spans = receiver.spans()
    for span in spans:
        a = attrs(span)
        if span["name"] in called:
            assert a["rpc.method"] == span["name"].split("/")[1]
        else:
            # Unknown, and said so: never a wrong method.
            assert span["name"] in ("grpc", "HTTP", "POST"), span["name"]
            assert "l7trace.undecoded" in a, span
            assert a.get("http.request.method", "POST") == "POST"
    for kind in (CLIENT, SERVER):
        mine = sorted(of_kind(spans, kind), key=lambda s: s["start_time_unix_nano"])
        assert len(mine) >= 2 * rounds - 5, (kind, len(mine))
        # New paths are sent literally, so the probes are named at once; the
        # Unary path refers to the old table until it is evicted and re-sent.
        unary = [i for i, s in enumerate(mine) if s["name"] == "demo.Echo/Unary"]
        assert unary, f"names never became exact on the {kind} side"
        print(f"mid-connection, kind {kind}: every name exact from request {unary[0] + 1} of {len(mine)}")
        assert all(s["name"] in called for s in mine[unary[0]:]), "once exact, exact for good"


@pytest.mark.tls
def test_curl_http2_over_tls_to_nginx(processes, receiver, tracers, tmp_path):
    """Needs the HTTPS issue's OpenSSL uprobes (issue 3)."""
    port = free_port()
    cert, key = self_signed_cert(tmp_path)
    processes.nginx(tmp_path, f"127.0.0.1:{port} ssl http2", port,
                    server_lines=(f"ssl_certificate {cert};", f"ssl_certificate_key {key};"))
    tracer = traced(tracers, receiver, "--port", str(port))
    for _ in range(3):
        out = run(["curl", "-sS", "-k", "--noproxy", "*", "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                   f"https://localhost:{port}/tls"]).stdout.decode()
        assert out == "200 2"
    assert wait_until(lambda: len(of_kind(receiver.spans(), CLIENT)) >= 3 and len(of_kind(receiver.spans(), SERVER)) >= 3)
    tracer.stop()
    for span in receiver.spans():
        a = attrs(span)
        assert span["name"] == "GET /tls"
        assert a["url.scheme"] == "https"
        assert a["network.protocol.version"] == "2"
        assert a["http.response.status_code"] == 200
