"""What leaves the host: no credential that an application puts in a URL or
a header reaches the collector, over HTTP/1.1 and HTTP/2, server and client
side; the span file is readable by its owner only; the metrics endpoint
listens on loopback. The export bytes themselves are searched, not only the
attributes the official decoder shows."""
import os
import stat
import subprocess
import time

from google.protobuf import json_format
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import CLIENT, SERVER, attrs, free_port, of_kind, run, traced, wait_until
from otlp_receiver import flatten

# Long, distinctive values: a short one could occur by chance in binary ids.
SECRETS = {
    "password": "hunter2-pw-4f1c9",
    "token": "tok-abc123-77e0d",
    "sig": "sig-zzz-90aa1",
    "X-Amz-Signature": "amz-qqq-3c3c2",
    "api_key": "key-k1-5d5e8",
    "access_token": "at-6b7c8d9e0f",
}
BEARER = "bearer-s3cr3t-0a9b8"
USERINFO_PASSWORD = "userinfo-pw-1e2d3"
QUERY = "&".join(f"{name}={value}" for name, value in SECRETS.items()) + "&q=ok"
REDACTED_QUERY = "&".join(f"{name}=REDACTED" for name in SECRETS) + "&q=ok"
ALL_SECRETS = [*SECRETS.values(), BEARER, USERINFO_PASSWORD]


def curl(*args):
    return run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                "-H", f"Authorization: Bearer {BEARER}", *args]).stdout.decode()


def assert_no_secret(data, where):
    for secret in ALL_SECRETS:
        assert secret.encode() not in data, f"{secret} reached {where}"


def test_http1_and_http2_secrets_never_reach_the_collector(processes, receiver, tracers, tmp_path):
    port, h2c_port = free_port(), free_port()
    (tmp_path / "h1").mkdir()
    (tmp_path / "h2c").mkdir()
    processes.nginx(tmp_path / "h1", f"127.0.0.1:{port}", port)
    processes.nginx(tmp_path / "h2c", f"127.0.0.1:{h2c_port} http2", h2c_port)
    tracer = traced(tracers, receiver, "--port", str(port), "--port", str(h2c_port))
    path = f"/x;jsessionid=J-{USERINFO_PASSWORD}/y?{QUERY}"
    assert curl("--http1.1", f"http://alice:{USERINFO_PASSWORD}@127.0.0.1:{port}{path}") == "200"
    assert curl("--http2-prior-knowledge", f"http://alice:{USERINFO_PASSWORD}@127.0.0.1:{h2c_port}{path}") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 4)
    tracer.stop()
    spans = receiver.spans()
    assert len(of_kind(spans, SERVER)) == 2 and len(of_kind(spans, CLIENT)) == 2, spans
    assert sorted(attrs(s)["network.protocol.version"] for s in spans) == ["1.1", "1.1", "2", "2"]
    for span in spans:
        a = attrs(span)
        assert a["url.query"] == REDACTED_QUERY
        assert a["url.path"] == "/x;jsessionid=REDACTED/y"
        assert span["name"] == "GET /x;jsessionid=REDACTED/y"
    for client in of_kind(spans, CLIENT):
        client_port = attrs(client)["server.port"]
        assert attrs(client)["url.full"] == f"http://127.0.0.1:{client_port}/x;jsessionid=REDACTED/y?{REDACTED_QUERY}"
    assert_no_secret(receiver.raw(), "the collector")
    assert_no_secret(receiver.out.read_bytes(), "the decoded spans")
    assert_no_secret("\n".join(tracer.stderr_lines).encode(), "the tracer's log")


def file_spans(path):
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return [span for line in lines for span in flatten(json_format.Parse(line, trace_pb2.TracesData()))]


def test_the_span_file_is_private_and_queries_can_be_left_out(processes, tracers, tmp_path):
    port = free_port()
    processes.nginx(tmp_path, f"127.0.0.1:{port}", port)
    output = tmp_path / "spans.jsonl"
    metrics_port = free_port()
    old = os.umask(0o022)
    try:
        tracer = tracers(["--port", str(port), "--exporter", "file", "--output", str(output), "--omit-url-query",
                          "--redact-query-param", "tenant", "--metrics-port", str(metrics_port)])
    finally:
        os.umask(old)
    assert curl("--http1.1", f"http://127.0.0.1:{port}/p;tenant=acme-1/q?{QUERY}") == "200"
    assert wait_until(lambda: len(file_spans(output)) >= 2, timeout=20)
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{metrics_port}"], capture_output=True, text=True).stdout
    tracer.stop()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert f"127.0.0.1:{metrics_port}" in listening, listening
    spans = file_spans(output)
    for span in spans:
        assert "url.query" not in span["attributes"], span
        assert span["attributes"]["url.path"] == "/p;tenant=REDACTED/q"
    client = [s for s in spans if "url.full" in s["attributes"]]
    assert client and client[0]["attributes"]["url.full"] == f"http://127.0.0.1:{port}/p;tenant=REDACTED/q"
    assert_no_secret(output.read_bytes(), "the span file")
    assert b"acme-1" not in output.read_bytes()
