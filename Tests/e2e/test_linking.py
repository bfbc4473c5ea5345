"""Issue 15, rule 1: when both ends of a connection on this host are traced,
the server span of each request is the child of the client span that sent
it (same trace id, parent = the client span's id), matched by the
connection's addresses and the request's position (HTTP/1) or stream
(HTTP/2). Real probes, real servers and clients, real OTLP receiver."""
import sys

from conftest import (CLIENT, SERVER, SERVERS, attrs, free_port, grpc_client, of_kind, run, service, traced,
                      wait_until)


def assert_no_span_id_twice(spans):
    ids = [s["span_id"] for s in spans]
    assert len(ids) == len(set(ids)), "a span id was used twice"


def assert_child_of(server, client):
    assert server["parent_span_id"] == client["span_id"], (server, client)
    assert server["trace_id"] == client["trace_id"]
    assert attrs(server)["l7trace.link"] == "connection"
    assert client["parent_span_id"] == ""
    # The server's work lies inside the client's request.
    assert client["start_time_unix_nano"] <= server["start_time_unix_nano"]
    assert server["end_time_unix_nano"] <= client["end_time_unix_nano"]


def test_curl_to_nginx_server_span_is_the_child_of_curls(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port}", port)
    tracer = traced(tracers, receiver, "--port", str(port))
    for i in range(5):
        out = run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                   f"http://127.0.0.1:{port}/r/{i}"]).stdout.decode()
        assert out == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 10)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 10, [(s["name"], s["kind"]) for s in spans]
    clients = {attrs(s)["url.path"]: s for s in of_kind(spans, CLIENT)}
    servers = {attrs(s)["url.path"]: s for s in of_kind(spans, SERVER)}
    assert set(clients) == set(servers) == {f"/r/{i}" for i in range(5)}
    for path, server in servers.items():
        assert service(clients[path]) == "curl" and service(server) == "nginx"
        assert_child_of(server, clients[path])
    assert len({s["trace_id"] for s in spans}) == 5, "one trace per request"
    assert_no_span_id_twice(spans)
    final = [line for line in tracer.stderr_lines if "l7trace: stats: " in line][-1]
    assert "span links linked 5" in final, final


def test_curl_with_a_traceparent_keeps_the_headers_ids(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port}", port)
    tracer = traced(tracers, receiver, "--port", str(port))
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-H", f"traceparent: 00-{trace}-{parent}-01",
         f"http://127.0.0.1:{port}/"])
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    tracer.stop()
    spans = receiver.spans()
    (client,), (server,) = of_kind(spans, CLIENT), of_kind(spans, SERVER)
    assert client["span_id"] == parent and client["trace_id"] == trace
    assert_child_of(server, client)
    assert_no_span_id_twice(spans)


KEEPALIVE_CLIENT = """
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for i in range(20):
    c.request("GET", f"/k/{i}")
    r = c.getresponse()
    assert r.status == 200, r.status
    r.read()
c.close()
"""


def test_python_keep_alive_client_to_a_threading_server(processes, receiver, tracers):
    port = free_port()
    processes.http_server(port, env={"OTEL_SERVICE_NAME": "threading-server"})
    tracer = traced(tracers, receiver, "--port", str(port))
    run([sys.executable, "-c", KEEPALIVE_CLIENT, str(port)], env={"OTEL_SERVICE_NAME": "keepalive-client"})
    assert wait_until(lambda: len(receiver.spans()) >= 40)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 40, [(s["name"], s["kind"]) for s in spans]
    clients = {attrs(s)["url.path"]: s for s in of_kind(spans, CLIENT)}
    servers = {attrs(s)["url.path"]: s for s in of_kind(spans, SERVER)}
    assert set(clients) == set(servers) == {f"/k/{i}" for i in range(20)}
    for path, server in servers.items():
        assert service(server) == "threading-server" and service(clients[path]) == "keepalive-client"
        assert_child_of(server, clients[path])
    assert len({s["parent_span_id"] for s in servers.values()}) == 20
    assert_no_span_id_twice(spans)






def test_grpc_server_spans_are_children_of_their_client_spans_by_stream(processes, receiver, tracers):
    port = processes.grpc_server()
    tracer = traced(tracers, receiver, "--port", str(port))
    assert len(grpc_client(port, "all")) == 6
    # Eleven concurrent calls on one channel: interleaved streams.
    assert len(grpc_client(port, "large")) == 11
    assert wait_until(lambda: len(receiver.spans()) >= 34, timeout=20)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 34, [(s["name"], s["kind"]) for s in spans]
    clients = {s["span_id"]: s for s in of_kind(spans, CLIENT)}
    servers = of_kind(spans, SERVER)
    assert len(clients) == len(servers) == 17
    for server in servers:
        client = clients.get(server["parent_span_id"])
        assert client is not None, server
        assert client["name"] == server["name"]
        assert server["trace_id"] == client["trace_id"]
        assert attrs(server)["l7trace.link"] == "connection"
        assert service(server) == "grpc-server" and service(client) == "grpc-client"
    # Every client span parents exactly one server span.
    assert len({s["parent_span_id"] for s in servers}) == 17
    assert_no_span_id_twice(spans)


def test_pipelined_requests_link_pairwise(processes, receiver, tracers):
    port = free_port()
    processes.http_server(port)
    tracer = traced(tracers, receiver, "--port", str(port))
    run([sys.executable, str(SERVERS / "pipelined_client.py"), str(port), "5", "/p"])
    assert wait_until(lambda: len(receiver.spans()) >= 10)
    tracer.stop()
    spans = receiver.spans()
    clients, servers = of_kind(spans, CLIENT), of_kind(spans, SERVER)
    assert len(clients) == len(servers) == 5
    # Same path on all five: the pairing is by position, and every client span parents exactly one.
    by_id = {c["span_id"]: c for c in clients}
    assert sorted(s["parent_span_id"] for s in servers) == sorted(by_id)
    for server in servers:
        assert server["trace_id"] == by_id[server["parent_span_id"]]["trace_id"]
    # In order: the n-th server read answers the n-th client write.
    clients.sort(key=lambda s: s["start_time_unix_nano"])
    servers.sort(key=lambda s: s["start_time_unix_nano"])
    assert [s["parent_span_id"] for s in servers] == [c["span_id"] for c in clients]
    assert_no_span_id_twice(spans)


def test_a_server_whose_client_is_not_traced_keeps_its_own_trace(processes, receiver, tracers):
    port = free_port()
    server = processes.http_server(port)
    tracer = traced(tracers, receiver, "--pid", str(server.pid))
    for i in range(3):
        run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", f"http://127.0.0.1:{port}/u/{i}"])
    assert wait_until(lambda: len(receiver.spans()) >= 3)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 3 and all(s["kind"] == SERVER for s in spans)
    assert all(s["parent_span_id"] == "" and "l7trace.link" not in attrs(s) for s in spans)
    assert len({s["trace_id"] for s in spans}) == 3


def test_h2load_concurrent_streams_pair_one_to_one(processes, receiver, tracers, tmp_path):
    port = processes.nghttpd(tmp_path)
    tracer = traced(tracers, receiver, "--port", str(port))
    out = run(["h2load", "-n", "100", "-c", "2", "-m", "10", f"http://127.0.0.1:{port}/hello.txt"]).stdout.decode()
    assert "100 succeeded" in out, out
    assert wait_until(lambda: len(receiver.spans()) >= 200, timeout=30)
    tracer.stop()
    spans = receiver.spans()
    clients = {s["span_id"]: s for s in of_kind(spans, CLIENT)}
    servers = of_kind(spans, SERVER)
    assert len(clients) == len(servers) == 100
    assert sorted(s["parent_span_id"] for s in servers) == sorted(clients), "a bijection"
    assert all(s["trace_id"] == clients[s["parent_span_id"]]["trace_id"] for s in servers)
    assert_no_span_id_twice(spans)
