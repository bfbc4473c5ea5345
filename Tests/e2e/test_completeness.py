"""Completeness is correctness: at a moderate fixed request rate the tracer
must give exactly one span per request, on both ends, and lose nothing.
`make bench` measures the same at a higher rate; this test keeps the rate
low enough to hold on a busy 2-core machine."""
import re

from conftest import CLIENT, SERVER, free_port, of_kind, run, traced, wait_until

REQUESTS, CLIENTS, RATE = 2000, 4, 500  # 4 s of load


def test_every_request_at_a_fixed_rate_gives_one_server_and_one_client_span(processes, receiver, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port}", port, keepalive_requests=100000)
    # --port selects both ends: nginx's accepted connections and h2load's own.
    tracer = traced(tracers, receiver, "--port", str(port))

    out = run(["h2load", "--h1", "-t1", f"-c{CLIENTS}", f"--rps={RATE // CLIENTS}", f"-n{REQUESTS}",
               f"http://127.0.0.1:{port}/orders"]).stdout.decode()
    succeeded = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out).group(1))
    assert succeeded == REQUESTS, out

    wait_until(lambda: len(receiver.spans()) >= 2 * succeeded, timeout=60)
    tracer.stop()
    spans = receiver.spans()
    servers, clients = of_kind(spans, SERVER), of_kind(spans, CLIENT)
    stats = next(line for line in reversed(tracer.stderr_lines) if "l7trace: stats:" in line)

    assert len(servers) == succeeded, stats
    assert len(clients) == succeeded, stats
    assert len({s["span_id"] for s in spans}) == len(spans)
    for span in spans:
        assert span["name"] == "GET /orders", span
        assert span["attributes"]["http.response.status_code"] == 200
    assert {s["resource"]["process.executable.name"] for s in servers} == {"nginx"}
    assert {s["resource"]["process.executable.name"] for s in clients} == {"h2load"}
    assert "lost 0 events" in stats
