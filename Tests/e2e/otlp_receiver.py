#!/usr/bin/env python3
"""A small OTLP/HTTP trace receiver for l7trace's end-to-end tests.

It accepts ``POST /v1/traces`` (application/x-protobuf, optionally gzip),
decodes the body with the official ``opentelemetry-proto`` package, and
records every span flattened with its resource and scope.

Command line::

    python3 Tests/e2e/otlp_receiver.py --port 18123 --out spans.jsonl [--status 503]
        [--rejected 2] [--requests requests.jsonl]

prints ``listening on PORT`` once ready and appends one JSON object per span
to ``--out`` (or stdout); ``--requests`` logs every POST (path, headers,
size, client port). As a module::

    with OTLPReceiver() as receiver:          # a free port, in a thread
        ... export to receiver.traces_url ...
        spans = receiver.wait_for_spans(3)
"""

import argparse
import gzip
import http.server
import json
import signal
import sys
import threading
import time

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

KIND_NAMES = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}


def any_value(value):
    """An AnyValue as a plain typed Python value (str, bool, int, float, list, dict, bytes-as-hex)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def attribute_types(key_values):
    """Which AnyValue member carried each attribute, e.g. {"http.response.status_code": "int_value"}."""
    return {kv.key: kv.value.WhichOneof("value") for kv in key_values}


def flatten(request):
    """One dict per span of an ExportTraceServiceRequest."""
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "resource": resource,
                    "resource_schema_url": resource_spans.schema_url,
                    "scope": {"name": scope_spans.scope.name, "version": scope_spans.scope.version},
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "trace_state": span.trace_state,
                    "name": span.name,
                    "kind": span.kind,  # the OTLP number: 2 SERVER, 3 CLIENT
                    "kind_name": KIND_NAMES.get(span.kind, str(span.kind)),
                    "start_time_unix_nano": span.start_time_unix_nano,
                    "end_time_unix_nano": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "attribute_types": attribute_types(span.attributes),
                    "status": {"code": span.status.code,  # 0 UNSET, 1 OK, 2 ERROR
                               "code_name": STATUS_NAMES.get(span.status.code, str(span.status.code)),
                               "message": span.status.message},
                    "has_status": span.HasField("status"),
                    "flags": span.flags,
                    "events": len(span.events),
                    "links": len(span.links),
                })
    return spans


class OTLPReceiver:
    """An OTLP/HTTP receiver on 127.0.0.1, serving from a background thread.

    ``status`` is the HTTP status to answer (200 by default; set the attribute
    later to switch); non-2xx answers carry a google.rpc.Status-shaped
    protobuf body with ``error_message``. Spans are recorded only for 2xx.
    """

    def __init__(self, port=0, status=200, error_message="refused by the test receiver", out=None,
                 rejected=0, requests_out=None):
        self.status = status
        self.error_message = error_message
        self.rejected = rejected  # > 0: answer 200 with partial_success.rejected_spans
        self.out = out
        self.requests_out = requests_out
        self.spans = []
        self.requests = []  # {"path", "headers", "size", "client_port"} of every POST
        self._lock = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the exporter expects

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver._record_request({"path": self.path, "headers": dict(self.headers), "size": len(body),
                                          "client_port": self.client_address[1]})
                if self.path != "/v1/traces":
                    return self._answer(404, b"not found", "text/plain")
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                status = receiver.status
                if not 200 <= status < 300:
                    return self._answer(status, _rpc_status(receiver.error_message), "application/x-protobuf")
                request = trace_service_pb2.ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except Exception as error:  # a malformed body is the exporter's bug: say so
                    return self._answer(400, _rpc_status("cannot decode: %s" % error), "application/x-protobuf")
                receiver._record_spans(flatten(request))
                response = trace_service_pb2.ExportTraceServiceResponse()
                if receiver.rejected:
                    response.partial_success.rejected_spans = receiver.rejected
                    response.partial_success.error_message = receiver.error_message
                self._answer(200, response.SerializeToString(), "application/x-protobuf")

            def _answer(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = None

    @property
    def traces_url(self):
        return "http://127.0.0.1:%d/v1/traces" % self.port

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _record_request(self, request):
        with self._lock:
            self.requests.append(request)
            if self.requests_out is not None:
                self.requests_out.write(json.dumps(request, sort_keys=True) + "\n")
                self.requests_out.flush()
            self._lock.notify_all()

    def _record_spans(self, spans):
        with self._lock:
            self.spans.extend(spans)
            if self.out is not None:
                for span in spans:
                    self.out.write(json.dumps(span, sort_keys=True) + "\n")
                self.out.flush()
            self._lock.notify_all()

    def wait_for_spans(self, count, timeout=10.0):
        """The spans received so far, once there are at least ``count`` (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.spans) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self.spans)

    def wait_for_requests(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self.requests)


def _rpc_status(message):
    """A google.rpc.Status with only ``message`` (field 2) set, encoded by hand."""
    data = message.encode("utf-8")
    length = len(data)
    prefix = bytearray([0x12])
    while True:
        byte = length & 0x7F
        length >>= 7
        prefix.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes(prefix) + data


def main():
    parser = argparse.ArgumentParser(description="OTLP/HTTP trace receiver for tests")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--out", help="append one JSON line per span here (default: stdout)")
    parser.add_argument("--status", type=int, default=200, help="HTTP status to answer with")
    parser.add_argument("--error-message", default="refused by the test receiver")
    parser.add_argument("--rejected", type=int, default=0, help="answer 200 with this many rejected spans")
    parser.add_argument("--requests", help="append one JSON line per POST here (path, headers, size, client port)")
    args = parser.parse_args()
    out = open(args.out, "a") if args.out else sys.stdout
    requests_out = open(args.requests, "a") if args.requests else None
    receiver = OTLPReceiver(port=args.port, status=args.status, error_message=args.error_message, out=out,
                            rejected=args.rejected, requests_out=requests_out)
    receiver.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly when the test kills us by PID
    print("listening on %d" % receiver.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        receiver.stop()


if __name__ == "__main__":
    main()
