#!/usr/bin/env python3
"""A small OTLP trace receiver for l7trace's tests, over HTTP or gRPC.

In HTTP mode it accepts ``POST /v1/traces`` (application/x-protobuf,
optionally gzip); in gRPC mode (``--grpc``) it is a grpcio server with the
official ``TraceServiceServicer``. Either decodes with the official
``opentelemetry-proto`` package and records every span flattened with its
resource and scope; either can serve TLS (``--tls-cert``/``--tls-key``).

Command line::

    python3 Tests/e2e/otlp_receiver.py --port 18123 --out spans.jsonl [--grpc] [--status 503]
        [--retry-after 2] [--fail-first 1] [--rejected 2] [--requests requests.jsonl]
        [--tls-cert cert.pem --tls-key key.pem]

prints ``listening on PORT`` once ready and appends one JSON object per span
to ``--out`` (or stdout); ``--requests`` logs every request (path, headers,
size, client port, time). ``--status`` is an HTTP status in HTTP mode and a
gRPC code in gRPC mode (``--retry-after`` then becomes a RetryInfo);
``--fail-first N`` answers it only to the first N requests. As a module::

    with OTLPReceiver() as receiver:          # a free port, in a thread
        ... export to receiver.traces_url ...
        spans = receiver.wait_for_spans(3)
"""

import argparse
import gzip
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time
from concurrent import futures

from google.protobuf import any_pb2, duration_pb2
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

    discard = False  # True: answer success and keep nothing (a benchmark's collector stand-in)

    def __init__(self, port=0, status=200, error_message="refused by the test receiver", out=None,
                 rejected=0, requests_out=None, retry_after=None, fail_first=None, tls=None, raw_out=None):
        self.status = status
        self.error_message = error_message
        self.rejected = rejected  # > 0: answer 200 with partial_success.rejected_spans
        self.retry_after = retry_after  # sent with non-2xx answers when set
        self.fail_first = fail_first  # answer `status` to this many requests only, then 200
        self.out = out
        self.requests_out = requests_out
        self.raw_out = raw_out  # a binary file: every export body as received (decompressed), appended
        self.spans = []
        self.requests = []  # {"path", "headers", "size", "client_port", "time"} of every request
        self._lock = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the exporter expects

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                number = receiver._record_request({"path": self.path, "headers": dict(self.headers), "size": len(body),
                                                   "client_port": self.client_address[1], "time": time.time()})
                if self.path != "/v1/traces":
                    return self._answer(404, b"not found", "text/plain")
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                receiver._record_raw(body)
                status = receiver.status if receiver.fail_first is None or number <= receiver.fail_first else 200
                if not 200 <= status < 300:
                    extra = {"Retry-After": str(receiver.retry_after)} if receiver.retry_after is not None else {}
                    return self._answer(status, _rpc_status(receiver.error_message), "application/x-protobuf", extra)
                if receiver.discard:  # a collector stand-in for benchmarks: the body is not even parsed
                    return self._answer(200, b"", "application/x-protobuf")
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

            def _answer(self, status, body, content_type, extra=None):
                self.send_response(status)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls[0], tls[1])
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        self._thread = None

    @property
    def traces_url(self):
        return "%s://127.0.0.1:%d/v1/traces" % (self.scheme, self.port)

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
        """Logs one request; returns its number, from 1."""
        with self._lock:
            self.requests.append(request)
            if self.requests_out is not None:
                self.requests_out.write(json.dumps(request, sort_keys=True) + "\n")
                self.requests_out.flush()
            self._lock.notify_all()
            return len(self.requests)

    def _record_raw(self, body):
        if self.raw_out is not None:
            with self._lock:
                self.raw_out.write(body)
                self.raw_out.flush()

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


class GRPCReceiver(OTLPReceiver):
    """The same receiver as an OTLP/gRPC server (grpcio, the official
    ``TraceServiceServicer``). ``status`` is a gRPC code (0 = OK);
    ``retry_after`` (seconds) rides along as a google.rpc.RetryInfo in
    ``grpc-status-details-bin``. grpcio's own decompression is off so that
    the receiver sees whether a message came gzip-compressed (it then
    decompresses it itself); the request log records each call's metadata
    and ``compressed``."""

    def __init__(self, port=0, status=0, error_message="refused by the test receiver", out=None,
                 rejected=0, requests_out=None, retry_after=None, fail_first=None, tls=None, raw_out=None):
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        self.status = status
        self.error_message = error_message
        self.rejected = rejected
        self.retry_after = retry_after
        self.fail_first = fail_first
        self.out = out
        self.requests_out = requests_out
        self.raw_out = raw_out  # a binary file: every export body as received (decompressed), appended
        self.spans = []
        self.requests = []
        self._lock = threading.Condition()
        receiver = self

        class Received:
            def __init__(self, data):
                self.size = len(data)
                self.compressed = data[:2] == b"\x1f\x8b"
                self.request = trace_service_pb2.ExportTraceServiceRequest.FromString(
                    gzip.decompress(data) if self.compressed else data)

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):
                received = request
                request = received.request
                peer = context.peer()  # ipv4:127.0.0.1:PORT
                number = receiver._record_request({
                    "path": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                    "headers": {key: value for key, value in context.invocation_metadata()
                                if not key.endswith("-bin")},
                    "size": received.size,
                    "compressed": received.compressed,
                    "client_port": int(peer.rsplit(":", 1)[1]) if ":" in peer else 0,
                    "time": time.time()})
                code = receiver.status if receiver.fail_first is None or number <= receiver.fail_first else 0
                if code != 0:
                    if receiver.retry_after is not None:
                        context.set_trailing_metadata([("grpc-status-details-bin",
                                                        _rpc_status(receiver.error_message, code, receiver.retry_after))])
                    status_code = next(c for c in grpc.StatusCode if c.value[0] == code)
                    context.abort(status_code, receiver.error_message)
                if not receiver.discard:
                    receiver._record_spans(flatten(request))
                response = trace_service_pb2.ExportTraceServiceResponse()
                if receiver.rejected:
                    response.partial_success.rejected_spans = receiver.rejected
                    response.partial_success.error_message = receiver.error_message
                return response

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                                   options=[("grpc.per_message_decompression", 0)])
        export = grpc.unary_unary_rpc_method_handler(
            Servicer().Export, request_deserializer=Received,
            response_serializer=trace_service_pb2.ExportTraceServiceResponse.SerializeToString)
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": export}),))
        if tls is not None:
            with open(tls[0], "rb") as cert, open(tls[1], "rb") as key:
                credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
            self.port = self._server.add_secure_port("127.0.0.1:%d" % port, credentials)
        else:
            self.port = self._server.add_insecure_port("127.0.0.1:%d" % port)
        if self.port == 0:
            raise OSError("cannot listen on port %d" % port)
        self._thread = None
        self.scheme = "https" if tls is not None else "http"

    @property
    def traces_url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def start(self):
        self._server.start()
        return self

    def stop(self):
        self._server.stop(grace=None)


def _rpc_status(message, code=None, retry_after=None):
    """A google.rpc.Status (code, message, and a RetryInfo detail when
    ``retry_after`` is set), encoded by hand: googleapis' Python bindings
    are not a dependency of the tests."""
    data = b""
    if code:
        data += b"\x08" + _varint(code)
    data += _field(2, message.encode("utf-8"))
    if retry_after is not None:
        delay = duration_pb2.Duration(seconds=int(retry_after), nanos=int((retry_after % 1) * 1e9))
        retry_info = _field(1, delay.SerializeToString())
        detail = any_pb2.Any(type_url="type.googleapis.com/google.rpc.RetryInfo", value=retry_info)
        data += _field(3, detail.SerializeToString())
    return data


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number, payload):
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def main():
    parser = argparse.ArgumentParser(description="OTLP/HTTP and OTLP/gRPC trace receiver for tests")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--out", help="append one JSON line per span here (default: stdout)")
    parser.add_argument("--grpc", action="store_true", help="serve OTLP/gRPC instead of OTLP/HTTP")
    parser.add_argument("--status", type=int, help="HTTP status (default 200) or, with --grpc, gRPC code (default 0)")
    parser.add_argument("--retry-after", type=float, help="with a failure status: Retry-After seconds, or a gRPC RetryInfo")
    parser.add_argument("--fail-first", type=int, help="answer --status to the first N requests only, then succeed")
    parser.add_argument("--error-message", default="refused by the test receiver")
    parser.add_argument("--rejected", type=int, default=0, help="answer success with this many rejected spans")
    parser.add_argument("--requests", help="append one JSON line per request here (path, headers, size, client port, time)")
    parser.add_argument("--discard", action="store_true", help="answer success and keep nothing (benchmarks)")
    parser.add_argument("--raw", help="append every OTLP/HTTP export body here, as received (decompressed)")
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="... and this key (PEM)")
    args = parser.parse_args()
    out = open(args.out, "a") if args.out else sys.stdout
    requests_out = open(args.requests, "a") if args.requests else None
    raw_out = open(args.raw, "ab") if args.raw else None
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    retry_after = args.retry_after
    if retry_after is not None and retry_after == int(retry_after) and not args.grpc:
        retry_after = int(retry_after)
    kind = GRPCReceiver if args.grpc else OTLPReceiver
    status = args.status if args.status is not None else (0 if args.grpc else 200)
    receiver = kind(port=args.port, status=status, error_message=args.error_message, out=out,
                    rejected=args.rejected, requests_out=requests_out, retry_after=retry_after,
                    fail_first=args.fail_first, tls=tls, **({"raw_out": raw_out} if raw_out else {}))
    receiver.discard = args.discard
    receiver.start()
    # Killed by PID at the end of a test: every line is already flushed, and
    # grpcio's server threads can hang a normal interpreter exit, so leave at once.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
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
