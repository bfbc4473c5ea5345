"""Export end to end, with the real binary and real traffic: OTLP over HTTP
and gRPC (auth header, gzip, TLS) to the test receiver (official
opentelemetry-proto bindings, grpcio), a collector that comes up late, a
full queue, the file exporter read by the official JSON parser, and the
Prometheus endpoint checked against what the receiver got."""
import json
import re
import subprocess
import sys
import urllib.request

import pytest
from google.protobuf import json_format
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import HERE, curl, free_port, json_lines, parse_metrics, wait_for_port, wait_until

SERVER, CLIENT = 2, 3


class Receiver:
    """otlp_receiver.py in its own process, HTTP or gRPC, logging spans and requests."""

    def __init__(self, processes, tmp_path, grpc=False, port=None, tls=None):
        self.port = port or free_port()
        self.grpc = grpc
        self.out = tmp_path / f"spans-{self.port}.jsonl"
        self.requests_out = tmp_path / f"requests-{self.port}.jsonl"
        args = [sys.executable, str(HERE / "otlp_receiver.py"), "--port", str(self.port), "--out", str(self.out),
                "--requests", str(self.requests_out)]
        if grpc:
            args.append("--grpc")
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.scheme = "https" if tls else "http"
        self.proc = processes.start(args)
        wait_for_port(self.port)

    @property
    def endpoint(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _lines(self, path):
        return json_lines(path)

    def spans(self):
        return self._lines(self.out)

    def requests(self):
        return self._lines(self.requests_out)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return parse_metrics(response.read().decode())


def paths(spans, kind):
    return sorted(s["attributes"].get("url.path") for s in spans if s["kind"] == kind)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_both_protocols_deliver_every_span_with_the_auth_header_and_gzip(processes, tracers, tmp_path, protocol):
    port = free_port()
    processes.http_server(port)
    receiver = Receiver(processes, tmp_path, grpc=protocol == "grpc")
    tracer = tracers(["--port", str(port), "--otlp-protocol", protocol, "--otlp-endpoint", receiver.endpoint],
                     env={"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t0ken",
                          "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4"})
    assert "OTLP/gRPC" in "".join(tracer.stderr_lines) if protocol == "grpc" else "OTLP/HTTP" in "".join(tracer.stderr_lines)
    for i in range(6):
        assert curl(f"http://127.0.0.1:{port}/items/{i}") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 12, timeout=20)
    tracer.stop()

    spans = receiver.spans()
    expected = [f"/items/{i}" for i in range(6)]
    assert paths(spans, SERVER) == expected and paths(spans, CLIENT) == expected, "every span, once"
    requests = receiver.requests()
    assert len(requests) >= 3, "batches of 4 spans"
    for request in requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["authorization"] == "Bearer t0ken"
        assert headers["user-agent"].startswith("OTel-OTLP-Exporter-Swift/")
        if protocol == "grpc":
            assert request["compressed"] is True
        else:
            assert headers["content-encoding"] == "gzip"


def test_grpc_over_tls_with_the_collectors_certificate(processes, tracers, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    processes.http_server(port)
    receiver = Receiver(processes, tmp_path, grpc=True, tls=(str(cert), str(key)))
    tracer = tracers(["--port", str(port)],
                     env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                          "OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert)})
    assert curl(f"http://127.0.0.1:{port}/secure") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 2, timeout=20)
    tracer.stop()
    assert paths(receiver.spans(), SERVER) == ["/secure"]
    assert not any("cannot export" in line for line in tracer.stderr_lines), "".join(tracer.stderr_lines)


def test_a_late_collector_gets_every_queued_span_once_and_overflow_is_counted(processes, tracers, tmp_path):
    port, metrics_port, collector_port = free_port(), free_port(), free_port()
    processes.http_server(port)
    tracer = tracers(["--port", str(port), "--otlp-endpoint", f"http://127.0.0.1:{collector_port}",
                      "--metrics-port", str(metrics_port)],
                     env={"OTEL_BSP_MAX_QUEUE_SIZE": "6", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2"})
    for i in range(10):
        assert curl(f"http://127.0.0.1:{port}/early/{i}") == "200"
    # Capture is unaffected by the full queue: every exchange is still seen.
    assert wait_until(lambda: scrape(metrics_port).get('l7trace_exchanges_total{protocol="http1"}') == 20)
    metrics = scrape(metrics_port)
    assert metrics['l7trace_spans_dropped_total{cause="queue_full"}'] == 14
    assert metrics["l7trace_export_queue_spans"] == 6
    assert metrics["l7trace_export_failures_total"] >= 1
    assert tracer.proc.poll() is None, "the tracer is alive"
    assert 1 <= sum("the span queue is full" in line for line in tracer.stderr_lines) <= 2, "warned once per interval"

    receiver = Receiver(processes, tmp_path, port=collector_port)
    assert wait_until(lambda: len(receiver.spans()) >= 6, timeout=30)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 6, "the 6 queued spans, each exactly once"
    assert len({s["span_id"] for s in spans}) == 6
    assert all(s["attributes"]["url.path"].startswith("/early/") for s in spans)
    assert any("export works again" in line for line in tracer.stderr_lines)


@pytest.mark.parametrize("destination", ["file", "stdout"])
def test_file_output_is_read_by_the_official_json_parser(processes, tracers, tmp_path, destination):
    port = free_port()
    processes.http_server(port, env={"OTEL_SERVICE_NAME": "json-demo"})
    path = tmp_path / "spans.jsonl"
    output = str(path) if destination == "file" else "-"
    tracer = tracers(["--port", str(port), "--exporter", "file", "--output", output])
    for i in range(3):
        assert curl(f"http://127.0.0.1:{port}/orders/{i}") == "200"
    if destination == "file":
        assert wait_until(lambda: path.exists() and path.read_text().count('"spanId"') >= 6, timeout=20)
    else:
        assert wait_until(lambda: "".join(tracer.stdout_lines).count('"spanId"') >= 6, timeout=20)
    tracer.stop()
    lines = path.read_text().splitlines() if destination == "file" else [l for l in tracer.stdout_lines if l.strip()]

    spans = []
    for line in lines:
        data = json_format.Parse(line, trace_pb2.TracesData())
        raw = json.loads(line)
        for r, resource_spans in enumerate(data.resource_spans):
            service = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}["service.name"]
            for s, scope_spans in enumerate(resource_spans.scope_spans):
                assert scope_spans.scope.name == "l7trace"
                for i, span in enumerate(scope_spans.spans):
                    raw_span = raw["resourceSpans"][r]["scopeSpans"][s]["spans"][i]
                    assert re.fullmatch(r"[0-9a-f]{32}", raw_span["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", raw_span["spanId"])
                    assert isinstance(raw_span["startTimeUnixNano"], str), "64-bit integers are strings"
                    spans.append((service, span.kind, span.name, span.end_time_unix_nano >= span.start_time_unix_nano))
    servers = sorted(s for s in spans if s[1] == SERVER)
    assert servers == [("json-demo", SERVER, "GET /orders/*", True)] * 3
    assert len([s for s in spans if s[1] == CLIENT]) == 3


def test_the_metrics_endpoint_agrees_with_the_receiver(processes, tracers, tmp_path):
    port, metrics_port = free_port(), free_port()
    processes.http_server(port)
    receiver = Receiver(processes, tmp_path)
    tracer = tracers(["--port", str(port), "--otlp-endpoint", receiver.endpoint, "--metrics-port", str(metrics_port),
                      "--stats-interval", "1"])
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in "".join(tracer.stderr_lines)
    for i in range(4):
        assert curl(f"http://127.0.0.1:{port}/m/{i}") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 8, timeout=20)
    assert wait_until(lambda: scrape(metrics_port).get("l7trace_spans_exported_total") == len(receiver.spans()))
    metrics = scrape(metrics_port)
    assert metrics["l7trace_spans_exported_total"] == 8
    assert metrics['l7trace_exchanges_total{protocol="http1"}'] == 8
    assert metrics["l7trace_events_received_total"] > 0
    assert metrics["l7trace_events_lost_total"] == 0
    assert all(metrics[f'l7trace_spans_dropped_total{{cause="{cause}"}}'] == 0
               for cause in ("queue_full", "export_failed", "shutdown"))
    assert metrics["l7trace_export_failures_total"] == 0
    assert wait_until(lambda: any("l7trace: stats: " in line for line in tracer.stderr_lines), timeout=10)
    tracer.stop()
    final = [line for line in tracer.stderr_lines if "l7trace: stats: " in line][-1]
    # One prefix: `<time> info l7trace: stats: …`, not `… l7trace: [l7trace] l7trace: stats: …`.
    assert re.match(r"^\S+ info l7trace: stats: events ", final) and final.count("l7trace") == 1, final
    assert "exchanges http1 8" in final and "spans exported 8, dropped 0" in final, final
