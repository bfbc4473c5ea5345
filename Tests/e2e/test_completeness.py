"""Completeness is correctness: at a moderate fixed request rate the tracer
must give exactly one span per request, on both ends, and lose nothing.
`make bench` measures the same at a higher rate; this test keeps the rate
low enough to hold on a busy 2-core machine."""
import re

from conftest import free_port, run, wait_for_port, wait_until

SERVER, CLIENT = 2, 3
REQUESTS, CLIENTS, RATE = 2000, 4, 500  # 4 s of load


def start_nginx(processes, tmp_path, port):
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path {tmp_path};
    proxy_temp_path {tmp_path};
    fastcgi_temp_path {tmp_path};
    uwsgi_temp_path {tmp_path};
    scgi_temp_path {tmp_path};
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
    processes.start(["nginx", "-c", str(conf), "-p", str(tmp_path)])
    wait_for_port(port)


def test_every_request_at_a_fixed_rate_gives_one_server_and_one_client_span(processes, receiver, tracers, tmp_path):
    port = free_port()
    start_nginx(processes, tmp_path, port)
    # --port selects both ends: nginx's accepted connections and h2load's own.
    tracer = tracers(["--port", str(port), "--exporter", "otlp", "--otlp-endpoint", receiver.endpoint])

    out = run(["h2load", "--h1", "-t1", f"-c{CLIENTS}", f"--rps={RATE // CLIENTS}", f"-n{REQUESTS}",
               f"http://127.0.0.1:{port}/orders"]).stdout.decode()
    succeeded = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out).group(1))
    assert succeeded == REQUESTS, out

    wait_until(lambda: len(receiver.spans()) >= 2 * succeeded, timeout=60)
    tracer.stop()
    spans = receiver.spans()
    servers = [s for s in spans if s["kind"] == SERVER]
    clients = [s for s in spans if s["kind"] == CLIENT]
    stats = next(line for line in reversed(tracer.stderr_lines) if "l7trace: stats:" in line)

    assert len(servers) == succeeded, stats
    assert len(clients) == succeeded, stats
    assert len({s["span_id"] for s in spans}) == len(spans)
    for span in spans:
        assert span["name"] == "GET /orders"
        assert span["attributes"]["http.response.status_code"] == 200
    assert {s["resource"]["process.executable.name"] for s in servers} == {"nginx"}
    assert {s["resource"]["process.executable.name"] for s in clients} == {"h2load"}
    assert "lost 0 events" in stats
