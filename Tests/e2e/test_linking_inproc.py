"""Issue 15, rules 2 and 3: a call a process makes while serving a request
is that request's child (thread-per-request: by thread; an event loop: only
with one request in flight; a forwarded traceparent: by header), never a
wrong parent. curl → nginx (proxy_pass) → a Python threading server "orders"
that calls "stock" for each request: one trace of six spans."""
import sys
from concurrent.futures import ThreadPoolExecutor

from conftest import CLIENT, SERVER, attrs, free_port, run, service, traced, wait_for_port, wait_until

ORDERS = """
import http.client, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

stock = int(sys.argv[2])

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        item = self.path.rsplit("/", 1)[1]
        c = http.client.HTTPConnection("127.0.0.1", stock)
        c.request("GET", f"/stock/{item}")
        r = c.getresponse()
        r.read()
        c.close()
        body = f"order {item}: {r.status}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

CHAIN = [("curl", CLIENT), ("nginx", SERVER), ("nginx", CLIENT), ("orders", SERVER), ("orders", CLIENT),
         ("stock", SERVER)]


def start_chain(processes, tmp_path):
    nginx_port, orders_port, stock_port = free_port(), free_port(), free_port()
    processes.http_server(stock_port, env={"OTEL_SERVICE_NAME": "stock"})
    processes.start([sys.executable, "-c", ORDERS, str(orders_port), str(stock_port)],
                    env={"OTEL_SERVICE_NAME": "orders"})
    wait_for_port(orders_port)
    processes.nginx(tmp_path, f"127.0.0.1:{nginx_port}", nginx_port,
                    server_lines=[f"location /orders/ {{ proxy_pass http://127.0.0.1:{orders_port}; }}"])
    return nginx_port, orders_port, stock_port


def order(nginx_port, item, *headers):
    extra = [arg for h in headers for arg in ("-H", h)]
    out = run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}", *extra,
               f"http://127.0.0.1:{nginx_port}/orders/{item}"]).stdout.decode()
    assert out == "200", out


def item_of(span):
    return attrs(span).get("url.path", "").rsplit("/", 1)[-1]


def role(span):
    # curl may exit before the tracer reads its name (unknown_service): it is the only other process.
    name = service(span)
    return (name if name in ("nginx", "orders", "stock") else "curl", span["kind"])


def assert_never_crossed(spans):
    by_id = {s["span_id"]: s for s in spans}
    for s in spans:
        parent = by_id.get(s["parent_span_id"])
        if parent is not None:
            assert item_of(parent) == item_of(s), ("crossed", parent, s)
            assert parent["trace_id"] == s["trace_id"]
    ids = [s["span_id"] for s in spans]
    assert len(ids) == len(set(ids)), "a span id was used twice"


def run_chain(processes, receiver, tracers, tmp_path, items, parallel=False, headers=()):
    nginx_port, orders_port, stock_port = start_chain(processes, tmp_path)
    tracer = traced(tracers, receiver, "--port", str(nginx_port), "--port", str(orders_port),
                    "--port", str(stock_port))
    if parallel:
        with ThreadPoolExecutor(len(items)) as pool:
            list(pool.map(lambda i: order(nginx_port, i, *headers), items))
    else:
        for i in items:
            order(nginx_port, i, *headers)
    assert wait_until(lambda: len(receiver.spans()) >= 6 * len(items), timeout=20)
    tracer.stop()
    return tracer, receiver.spans()


def test_sequential_chain_is_one_trace_of_six(processes, receiver, tracers, tmp_path):
    tracer, spans = run_chain(processes, receiver, tracers, tmp_path, [str(i) for i in range(3)])
    assert len(spans) == 18, [(service(s), s["kind"], attrs(s).get("url.path")) for s in spans]
    assert_never_crossed(spans)
    traces = {}
    for s in spans:
        traces.setdefault(s["trace_id"], []).append(s)
    assert len(traces) == 3, [(role(s), item_of(s)) for s in spans]
    for trace in traces.values():
        by_role = {role(s): s for s in trace}
        assert sorted(by_role) == sorted(CHAIN)
        chain = [by_role[r] for r in CHAIN]
        assert chain[0]["parent_span_id"] == ""
        for parent, child in zip(chain, chain[1:]):
            assert child["parent_span_id"] == parent["span_id"], (role(parent), role(child))
            assert parent["start_time_unix_nano"] <= child["start_time_unix_nano"]
            assert child["end_time_unix_nano"] <= parent["end_time_unix_nano"]
        # nginx accepts and reads on its one worker thread: an event loop; orders accepts on its main
        # thread and reads on a thread per connection: thread-per-request.
        assert [attrs(s).get("l7trace.link") for s in chain[1:]] == [
            "connection", "event_loop", "connection", "thread", "connection"]


def test_ten_in_parallel_are_never_crossed(processes, receiver, tracers, tmp_path):
    tracer, spans = run_chain(processes, receiver, tracers, tmp_path, [str(i) for i in range(10)], parallel=True)
    assert len(spans) == 60
    assert_never_crossed(spans)
    by_id = {s["span_id"]: s for s in spans}
    links = {}
    for s in spans:
        parent = by_id.get(s["parent_span_id"])
        if parent is not None:
            links.setdefault((role(parent), role(s)), 0)
            links[(role(parent), role(s))] += 1
    # Rule 1 on every hop, and the thread-per-request server by thread.
    assert links.get((("curl", CLIENT), ("nginx", SERVER))) == 10, links
    assert links.get((("nginx", CLIENT), ("orders", SERVER))) == 10, links
    assert links.get((("orders", CLIENT), ("stock", SERVER))) == 10, links
    assert links.get((("orders", SERVER), ("orders", CLIENT)), 0) >= 1, links
    print("links:", links)


def test_a_curl_traceparent_through_the_chain(processes, receiver, tracers, tmp_path):
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    tracer, spans = run_chain(processes, receiver, tracers, tmp_path, ["7"],
                              headers=[f"traceparent: 00-{trace}-{parent}-01"])
    assert len(spans) == 6
    assert {s["trace_id"] for s in spans} == {trace}
    by_role = {role(s): s for s in spans}
    chain = [by_role[r] for r in CHAIN]
    assert chain[0]["span_id"] == parent
    assert chain[2]["span_id"] != parent
    assert attrs(chain[2])["l7trace.link"] == "header"
    for p, child in zip(chain, chain[1:]):
        assert child["parent_span_id"] == p["span_id"], (role(p), role(child))
    assert_never_crossed(spans)
