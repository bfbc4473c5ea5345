"""Issue 15: a request through a chain of traced services is one trace.

curl → nginx (proxy_pass to an upstream with keep-alive, HTTP/1.1) → a
Python threading server "orders" that, while handling each request, calls a
Python server "stock". Links across processes (rule 1: curl → nginx SERVER,
nginx CLIENT → orders SERVER, orders CLIENT → stock SERVER) and inside a
process (rule 2: nginx SERVER → nginx CLIENT on an event loop, orders SERVER →
orders CLIENT on a thread) make each request one trace of six spans. A wrong
parent is worse than none: under concurrency a link may be missing where the
process cannot tell its requests apart, never crossed."""
import subprocess
import sys

from conftest import CLIENT, SERVER, SERVERS, attrs, free_port, of_kind, service, traced, wait_for_port, wait_until
from test_linking import assert_no_span_id_twice

# Who sends, who serves, in the chain's order; each parents the next.
CHAIN = [("curl", CLIENT, "/orders/"), ("nginx", SERVER, "/orders/"), ("nginx", CLIENT, "/orders/"),
         ("orders", SERVER, "/orders/"), ("orders", CLIENT, "/stock/"), ("stock", SERVER, "/stock/")]
# How each span hangs off the one before it (`l7trace.link`).
LINKS = ["connection", "event_loop", "connection", "thread", "connection"]


def start_chain(processes, tmp_path):
    """stock, orders and nginx in front: the port of nginx, and every port to trace."""
    stock, orders, front = free_port(), free_port(), free_port()
    processes.http_server(stock, env={"OTEL_SERVICE_NAME": "stock"})
    processes.start([sys.executable, str(SERVERS / "chain_server.py"), str(orders), str(stock)],
                    env={"OTEL_SERVICE_NAME": "orders"})
    wait_for_port(orders)
    processes.nginx(tmp_path, f"127.0.0.1:{front}", front,
                    http_lines=[f"upstream orders {{ server 127.0.0.1:{orders}; keepalive 8; }}"],
                    server_lines=["location /orders/ { proxy_pass http://orders; proxy_http_version 1.1; "
                                  'proxy_set_header Connection ""; }'])
    return front, [str(p) for p in (front, orders, stock)]


def trace_with(tracers, receiver, ports):
    return traced(tracers, receiver, *[arg for port in ports for arg in ("--port", port)])


def curl_order(front, item, *headers):
    return subprocess.Popen(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                             *[arg for h in headers for arg in ("-H", h)], f"http://127.0.0.1:{front}/orders/{item}"],
                            stdout=subprocess.PIPE)


def name_of(span):
    """The span's service; curl may exit before the tracer reads its name
    (`unknown_service`), and it is the only other process here."""
    name = service(span)
    return name if name in ("nginx", "orders", "stock") else "curl"


def chains(spans, items):
    """For each item, its six spans in the chain's order."""
    found = {}
    for item in items:
        chain = []
        for name, kind, prefix in CHAIN:
            matches = [s for s in of_kind(spans, kind)
                       if name_of(s) == name and attrs(s).get("url.path") == f"{prefix}{item}"]
            assert len(matches) == 1, (item, name, kind, [(service(s), s["kind"], attrs(s).get("url.path")) for s in spans])
            chain.append(matches[0])
        found[item] = chain
    return found


def tree(chain):
    """The chain as a trace tree, as the receiver got it (printed with `pytest -s`)."""
    lines = [f"trace {chain[0]['trace_id']}"]
    start = chain[0]["start_time_unix_nano"]
    for depth, span in enumerate(chain):
        kind = "SERVER" if span["kind"] == SERVER else "CLIENT"
        offset = (span["start_time_unix_nano"] - start) / 1000
        duration = (span["end_time_unix_nano"] - span["start_time_unix_nano"]) / 1000
        link = attrs(span).get("l7trace.link", "root")
        lines.append(f"{'  ' * depth}└─ {name_of(span)} {kind} {span['name']}  span {span['span_id']} "
                     f"parent {span['parent_span_id'] or '-'}  +{offset:.0f} µs, {duration:.0f} µs  ({link})")
    return "\n".join(lines)


def assert_inside(child, parent):
    assert parent["start_time_unix_nano"] <= child["start_time_unix_nano"], (parent["name"], child["name"])
    assert child["end_time_unix_nano"] <= parent["end_time_unix_nano"], (parent["name"], child["name"])


def assert_whole_chain(chain, links=LINKS):
    """Six spans, one trace, each the child of the one before, inside it."""
    assert len({s["trace_id"] for s in chain}) == 1, [s["trace_id"] for s in chain]
    for parent, child, link in zip(chain, chain[1:], links):
        assert child["parent_span_id"] == parent["span_id"], (service(parent), service(child), link)
        assert attrs(child)["l7trace.link"] == link
        assert_inside(child, parent)


def run_orders(front, items, *headers):
    clients = [curl_order(front, item, *headers) for item in items]
    for client in clients:
        out, _ = client.communicate(timeout=60)
        assert client.returncode == 0 and out == b"200"


def test_each_request_through_the_chain_is_one_trace_of_six_spans(processes, receiver, tracers, tmp_path):
    front, ports = start_chain(processes, tmp_path)
    tracer = trace_with(tracers, receiver, ports)
    items = list(range(5))
    for item in items:
        run_orders(front, [item])
    assert wait_until(lambda: len(receiver.spans()) >= 6 * len(items), timeout=20)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 6 * len(items)
    for chain in chains(spans, items).values():
        assert chain[0]["parent_span_id"] == "", "curl's span is the root"
        assert_whole_chain(chain)
    print(tree(chains(spans, items)[0]))
    assert len({s["trace_id"] for s in spans}) == len(items)
    assert_no_span_id_twice(spans)


def test_ten_requests_in_parallel_are_never_crossed(processes, receiver, tracers, tmp_path):
    front, ports = start_chain(processes, tmp_path)
    tracer = trace_with(tracers, receiver, ports)
    items = list(range(100, 110))
    run_orders(front, items)
    assert wait_until(lambda: len(receiver.spans()) >= 6 * len(items), timeout=20)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 6 * len(items)
    by_id = {s["span_id"]: s for s in spans}
    found = chains(spans, items)
    for item, chain in found.items():
        for parent, child, link in zip(chain, chain[1:], LINKS):
            if child["parent_span_id"] == "":
                # Unlinked only where a process had several requests in flight.
                assert link == "event_loop", (item, service(child), link)
                assert "l7trace.link" not in attrs(child)
                continue
            assert child["parent_span_id"] == parent["span_id"], \
                ("crossed", item, service(child), attrs(by_id.get(child["parent_span_id"], {"attributes": {}})["attributes"]))
            assert child["trace_id"] == parent["trace_id"]
            assert attrs(child)["l7trace.link"] == link
            assert_inside(child, parent)
    assert_no_span_id_twice(spans)


def test_a_traceparent_sent_by_curl_is_the_trace_of_the_whole_chain(processes, receiver, tracers, tmp_path):
    """nginx forwards the header unchanged: its CLIENT span must not take
    curl's id from it (two spans with one id), but hang off its SERVER span."""
    front, ports = start_chain(processes, tmp_path)
    tracer = trace_with(tracers, receiver, ports)
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    run_orders(front, [7], f"traceparent: 00-{trace}-{parent}-01")
    assert wait_until(lambda: len(receiver.spans()) >= 6, timeout=20)
    tracer.stop()
    spans = receiver.spans()
    assert len(spans) == 6
    chain = chains(spans, [7])[7]
    assert all(s["trace_id"] == trace for s in chain)
    assert chain[0]["span_id"] == parent, "curl's span has the header's id"
    assert chain[2]["span_id"] != parent
    # nginx forwards the header: its call is linked by it (rule 3), the rest as without it.
    assert_whole_chain(chain, links=["connection", "header", "connection", "thread", "connection"])
    assert_no_span_id_twice(spans)
