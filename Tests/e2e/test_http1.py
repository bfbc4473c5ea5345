"""HTTP/1.1 over plain TCP, end to end: real probes, real servers and
clients, spans decoded by the official opentelemetry-proto package."""
import os
import socket
import subprocess
import sys
import time

from conftest import CLIENT, SERVER, SERVERS, attrs, curl, free_port, of_kind, run, service, traced, wait_until


def test_curl_to_python_server_gives_server_and_client_spans(processes, receiver, tracers):
    port = free_port()
    server = processes.http_server(port)
    tracer = traced(tracers, receiver, "--port", str(port))
    start = time.time_ns()
    for item in (41, 42, 43):
        assert curl(f"http://127.0.0.1:{port}/items/{item}?color=red") == "200"
    end = time.time_ns()
    assert wait_until(lambda: len(receiver.spans()) >= 6)
    tracer.stop()

    spans = receiver.spans()
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    assert len(servers) == 3 and len(clients) == 3, spans
    for span in servers:
        a = attrs(span)
        assert span["name"] == "GET /items/*"
        assert a["http.request.method"] == "GET"
        assert a["url.path"] in ("/items/41", "/items/42", "/items/43")
        assert a["url.query"] == "color=red"
        assert a["url.scheme"] == "http"
        assert a["http.route"] == "/items/*"
        assert a["http.response.status_code"] == 200
        assert a["server.port"] == port
        assert a["network.peer.address"] == "127.0.0.1"
        assert a["network.peer.port"] != port
        assert a["client.address"] == "127.0.0.1"
        assert a["network.protocol.version"] == "1.1"
        assert a["user_agent.original"].startswith("curl/")
        assert span["resource"]["process.pid"] == server.pid
        assert span["status"]["code"] == 0
        assert start <= span["start_time_unix_nano"] <= span["end_time_unix_nano"] <= end
    for span in clients:
        a = attrs(span)
        assert span["name"] == "GET /items/*"
        assert a["http.response.status_code"] == 200
        assert a["server.address"] == "127.0.0.1"
        assert a["server.port"] == port
        assert a["network.peer.port"] == port
        assert a["url.full"].startswith(f"http://127.0.0.1:{port}/items/4")
        assert service(span) == "curl"
        assert start <= span["start_time_unix_nano"] <= span["end_time_unix_nano"] <= end
    # The requests ran one after another: each client span encloses the
    # server span of the same request (client and server run on different
    # CPUs, whose clocks may differ by a microsecond or so in a VM).
    skew = 50_000
    by_start = lambda s: s["start_time_unix_nano"]
    for client, server_span in zip(sorted(clients, key=by_start), sorted(servers, key=by_start)):
        assert client["start_time_unix_nano"] <= server_span["start_time_unix_nano"] + skew
        assert server_span["end_time_unix_nano"] <= client["end_time_unix_nano"] + skew


def test_error_statuses_follow_the_client_and_server_rules(processes, receiver, tracers):
    port = free_port()
    processes.http_server(port)
    tracer = traced(tracers, receiver, "--port", str(port))
    assert curl(f"http://127.0.0.1:{port}/status/404") == "404"
    assert curl(f"http://127.0.0.1:{port}/status/503") == "503"
    assert wait_until(lambda: len(receiver.spans()) >= 4)
    tracer.stop()
    spans = receiver.spans()
    status = {(s["kind"], attrs(s)["http.response.status_code"]): s for s in spans}
    assert status[(SERVER, 404)]["status"]["code"] == 0
    assert status[(CLIENT, 404)]["status"]["code"] == 2
    assert attrs(status[(CLIENT, 404)])["error.type"] == "404"
    assert status[(SERVER, 503)]["status"]["code"] == 2
    assert attrs(status[(SERVER, 503)])["error.type"] == "503"


def test_nginx_takes_its_service_name_from_its_executable(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port}", port)
    tracer = traced(tracers, receiver, "--port", str(port))
    for _ in range(3):
        assert curl(f"http://127.0.0.1:{port}/orders/7f3a9c2e5b1d4e6f8a9b0c1d2e3f4a5b") == "200"
    assert wait_until(lambda: len(of_kind(receiver.spans(), SERVER)) >= 3)
    tracer.stop()
    servers = of_kind(receiver.spans(), SERVER)
    assert len(servers) == 3
    for span in servers:
        assert service(span) == "nginx"
        assert span["resource"]["process.executable.name"] == "nginx"
        assert span["name"] == "GET /orders/*"


def test_service_name_comes_from_the_process_environment(processes, receiver, tracers):
    port, other = free_port(), free_port()
    processes.http_server(port, env={"OTEL_SERVICE_NAME": "checkout-api"})
    processes.http_server(other, env={"OTEL_RESOURCE_ATTRIBUTES": "service.name=inventory,service.version=1.2.3"})
    tracer = traced(tracers, receiver, "--port", str(port), "--port", str(other))
    curl(f"http://127.0.0.1:{port}/")
    curl(f"http://127.0.0.1:{other}/")
    assert wait_until(lambda: len(of_kind(receiver.spans(), SERVER)) >= 2)
    tracer.stop()
    names = {attrs(s)["server.port"]: service(s) for s in of_kind(receiver.spans(), SERVER)}
    assert names == {port: "checkout-api", other: "inventory"}


def test_keep_alive_and_pipelined_requests_give_one_span_each(processes, receiver, tracers):
    port = free_port()
    processes.http_server(port)
    tracer = traced(tracers, receiver, "--port", str(port))
    urls = [f"http://127.0.0.1:{port}/keepalive/{i}" for i in range(20)]
    run(["curl", "-sS", "-o", "/dev/null", *urls])
    run([sys.executable, str(SERVERS / "pipelined_client.py"), str(port), "15", "/pipelined"])
    assert wait_until(lambda: len(receiver.spans()) >= 70, timeout=20)
    time.sleep(0.5)
    tracer.stop()
    spans = receiver.spans()
    keepalive = [s for s in spans if attrs(s)["url.path"].startswith("/keepalive/")]
    pipelined = [s for s in spans if attrs(s)["url.path"] == "/pipelined"]
    assert len(of_kind(keepalive, SERVER)) == 20 and len(of_kind(keepalive, CLIENT)) == 20
    assert len(of_kind(pipelined, SERVER)) == 15 and len(of_kind(pipelined, CLIENT)) == 15
    # One connection for all keep-alive requests: one client port.
    assert len({attrs(s)["network.peer.port"] for s in of_kind(keepalive, SERVER)}) == 1


def test_large_post_body_size_is_right(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.http_server(port)
    body = tmp_path / "body.bin"
    body.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    tracer = traced(tracers, receiver, "--port", str(port))
    assert curl("-X", "POST", "--data-binary", f"@{body}", "-H", "Content-Type: application/octet-stream",
                f"http://127.0.0.1:{port}/upload") == "201"
    assert curl(f"http://127.0.0.1:{port}/bytes/2000000") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 4)
    tracer.stop()
    spans = receiver.spans()
    uploads = [s for s in spans if attrs(s)["url.path"] == "/upload"]
    downloads = [s for s in spans if attrs(s)["url.path"] == "/bytes/2000000"]
    assert len(uploads) == 2 and len(downloads) == 2
    for span in uploads:
        assert span["name"] == "POST /upload"
        assert attrs(span)["http.request.body.size"] == 3 * 1024 * 1024 + 17
        assert attrs(span)["http.response.status_code"] == 201
    for span in downloads:
        assert attrs(span)["http.response.body.size"] == 2000000


def test_port_selection_traces_only_that_port(processes, receiver, tracers):
    selected, other = free_port(), free_port()
    processes.http_server(selected)
    processes.http_server(other)
    tracer = traced(tracers, receiver, "--port", str(selected))
    curl(f"http://127.0.0.1:{selected}/a")
    curl(f"http://127.0.0.1:{other}/b")
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    time.sleep(1)
    tracer.stop()
    spans = receiver.spans()
    assert {attrs(s)["url.path"] for s in spans} == {"/a"}
    assert len(spans) == 2


def test_pid_selection_traces_only_that_process(processes, receiver, tracers):
    selected, other = free_port(), free_port()
    server = processes.http_server(selected)
    processes.http_server(other)
    tracer = traced(tracers, receiver, "--pid", str(server.pid))
    curl(f"http://127.0.0.1:{selected}/a")
    curl(f"http://127.0.0.1:{other}/b")
    assert wait_until(lambda: len(receiver.spans()) >= 1)
    time.sleep(1)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 1
    assert spans[0]["kind"] == SERVER and attrs(spans[0])["url.path"] == "/a"
    assert spans[0]["resource"]["process.pid"] == server.pid


def test_service_selection_traces_matching_processes_including_new_ones(processes, receiver, tracers):
    tag = f"svc{free_port()}"
    first, other, later = free_port(), free_port(), free_port()
    processes.http_server(first, env={"OTEL_SERVICE_NAME": f"{tag}-alpha"})
    processes.http_server(other, env={"OTEL_SERVICE_NAME": f"{tag}-beta"})
    tracer = traced(tracers, receiver, "--service", f"{tag}-a*", "--service", f"{tag}-g?mma")
    processes.http_server(later, env={"OTEL_SERVICE_NAME": f"{tag}-gamma"})
    curl(f"http://127.0.0.1:{first}/one")
    curl(f"http://127.0.0.1:{other}/two")
    curl(f"http://127.0.0.1:{later}/three")
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    time.sleep(1)
    tracer.stop()
    spans = receiver.spans()
    assert sorted((service(s), attrs(s)["url.path"]) for s in spans) == [
        (f"{tag}-alpha", "/one"), (f"{tag}-gamma", "/three")]
    assert all(s["kind"] == SERVER for s in spans)


def test_export_traffic_to_a_selected_local_collector_is_never_traced(processes, receiver, tracers):
    port = free_port()
    processes.http_server(port)
    # The collector's own port is selected, and so is its process.
    tracer = traced(tracers, receiver, "--port", str(port), "--port", str(receiver.port))
    for i in range(5):
        curl(f"http://127.0.0.1:{port}/work/{i}")
        time.sleep(0.3)  # several export rounds
    assert wait_until(lambda: len(receiver.spans()) >= 10)
    time.sleep(1)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 10
    assert not [s for s in spans if attrs(s).get("url.path") == "/v1/traces"]


def test_connection_opened_before_the_tracer_gets_its_roles_inferred(processes, receiver, tracers):
    port = free_port()
    processes.http_server(port)
    client = processes.start([sys.executable, str(SERVERS / "slow_keepalive_client.py"), str(port),
                              "/before", "/after/1", "/after/2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert client.stdout.readline().strip() == "200"
    tracer = traced(tracers, receiver, "--port", str(port))
    for _ in range(2):
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 3)
    time.sleep(0.5)
    tracer.stop()
    spans = receiver.spans()
    # The server's read of /after/1 was already blocked in the kernel when
    # the probes attached, so its entry was never seen: that one request may
    # be missing on the server side, but nothing may be wrong.
    assert sorted(attrs(s)["url.path"] for s in of_kind(spans, CLIENT)) == ["/after/1", "/after/2"]
    assert "/after/2" in [attrs(s)["url.path"] for s in of_kind(spans, SERVER)]
    assert len(of_kind(spans, SERVER)) <= 2
    for span in of_kind(spans, SERVER):
        assert attrs(span)["server.port"] == port
        assert attrs(span)["network.peer.port"] != port
        assert attrs(span)["http.response.status_code"] == 200
    for span in of_kind(spans, CLIENT):
        assert attrs(span)["network.peer.port"] == port
        assert span["resource"]["process.pid"] == client.pid
        assert service(span).startswith("python")


def test_pid_selection_covers_the_children_the_process_forked_before_the_tracer(processes, receiver, tracers, tmp_path):
    port = free_port()
    master = processes.nginx(tmp_path, f"127.0.0.1:{port}", port)
    tracer = traced(tracers, receiver, "--pid", str(master.pid))
    for _ in range(2):
        assert curl(f"http://127.0.0.1:{port}/workers") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    time.sleep(0.5)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 2 and all(s["kind"] == SERVER for s in spans)
    # nginx's worker, forked by the master before l7trace started, answered.
    assert {s["resource"]["process.pid"] for s in spans} != {master.pid}
    assert {service(s) for s in spans} == {"nginx"}


def test_a_client_on_a_port_the_tracer_once_used_is_still_traced(processes, receiver, tracers):
    """The self-traffic check knew the tracer's own connections by their local
    port alone: a client whose ephemeral port the tracer had used before (here
    bound on purpose) lost its server spans, with no counter (the soak's short
    connections lost 4 in 50,000 so)."""
    port = free_port()
    server = processes.http_server(port)
    tracer = traced(tracers, receiver, "--port", str(port))
    curl(f"http://127.0.0.1:{port}/first")
    assert wait_until(lambda: len(receiver.spans()) >= 2)
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( dport = :{receiver.port} )"],
                         capture_output=True, text=True).stdout
    tracer_ports = [int(line.split()[2].rsplit(":", 1)[1]) for line in out.splitlines()
                    if f"pid={tracer.proc.pid}," in line]
    assert tracer_ports, out
    reused = tracer_ports[0]
    # Free that port (the tracer's exporter reconnects from another), then a
    # client connection from it to the traced server.
    subprocess.run(["ss", "-K", "-tn", "state", "established", f"( sport = :{reused} )"], check=True,
                   capture_output=True)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", reused))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /reused HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.")
    assert wait_until(lambda: [sp for sp in receiver.spans() if attrs(sp).get("url.path") == "/reused"])
    time.sleep(0.5)
    tracer.stop()
    reused_spans = [sp for sp in receiver.spans() if attrs(sp).get("url.path") == "/reused"]
    servers = of_kind(reused_spans, SERVER)
    assert len(servers) == 1 and len(of_kind(reused_spans, CLIENT)) == 1, reused_spans
    assert attrs(servers[0])["network.peer.port"] == reused
    assert servers[0]["resource"]["process.pid"] == server.pid
