"""End-to-end tests of the capture layer (kernel probes + L7Capture), as root.

They drive `capdump` (Tests/e2e/capture_harness), which prints one
`Capture.describe` line per event like `l7trace --dump-events`. It is built
on the fly next to the repository unless L7TRACE_CAPDUMP names a binary.
Every tracer run is restricted to a port or pid these tests own.
"""
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import free_port, wait_for_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loading BPF programs needs root")

HARNESS_PACKAGE = """\
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "capdump",
    targets: [
        .target(name: "CProbes", exclude: ["generated"],
                linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]),
        .target(name: "L7Events"),
        .target(name: "L7Basics"),
        .target(name: "L7Capture", dependencies: ["CProbes", "L7Events", "L7Basics"]),
        .executableTarget(name: "capdump", dependencies: ["L7Capture", "L7Events"]),
    ],
    swiftLanguageModes: [.v5]
)
"""


@pytest.fixture(scope="session", autouse=True)
def _needs_root_and_binary():
    """Overrides conftest's: these tests run capdump, not a built l7trace."""


@pytest.fixture(scope="session")
def capdump():
    given = os.environ.get("L7TRACE_CAPDUMP")
    if given:
        return given
    subprocess.run(["make", "-C", str(ROOT), "--no-print-directory",
                    "Sources/CProbes/generated/l7trace.skel.h"], check=True)
    package = ROOT / ".build-e2e-capture"
    sources = package / "Sources"
    sources.mkdir(parents=True, exist_ok=True)
    for name, target in [("CProbes", "Sources/CProbes"), ("L7Events", "Sources/L7Events"),
                         ("L7Basics", "Sources/L7Basics"), ("L7Capture", "Sources/L7Capture"), ("capdump", "Tests/e2e/capture_harness")]:
        link = sources / name
        if not link.is_symlink():
            link.symlink_to(ROOT / target)
    (package / "Package.swift").write_text(HARNESS_PACKAGE)
    subprocess.run(["swift", "build", "--package-path", str(package)], check=True)
    return str(package / ".build" / "debug" / "capdump")


FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def parse(line):
    kind, _, rest = line.partition(" ")
    event = {k: (v[1:-1] if v.startswith('"') else v) for k, v in FIELD.findall(rest)}
    event["kind"] = kind
    return event


class Tracer:
    """A capdump run; `stop()` returns its events (dicts of the line's fields)."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, "--dump-events", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if not line.startswith("l7trace: ready"):
            self.proc.kill()
            raise AssertionError(f"tracer did not start: {line}{self.proc.stderr.read()}")
        self.pid = self.proc.pid

    def stop(self):
        time.sleep(0.3)  # longer than a poll: the last events reach user space
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        self.stderr = err
        assert self.proc.returncode == 0, err
        self.events = [parse(line) for line in out.splitlines() if line]
        self.counters = next(e for e in self.events if e["kind"] == "counters")
        self.polls = next(e for e in self.events if e["kind"] == "polls")
        return self.events


def of_kind(events, kind, **fields):
    return [e for e in events if e["kind"] == kind and all(e.get(k) == str(v) for k, v in fields.items())]


@pytest.fixture
def http_server(tmp_path):
    (tmp_path / "big.bin").write_bytes(bytes(range(256)) * 1200)  # 307200 bytes
    (tmp_path / "index.html").write_text("hello\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def curl(*urls):
    outputs = [arg for url in urls for arg in ("-o", "/dev/null", url)]
    proc = subprocess.run(["curl", "-s", "-w", "%{http_code}\n", *outputs],
                          capture_output=True, text=True, timeout=60)
    assert set(proc.stdout.split()) == {"200"}, proc.stdout + proc.stderr


def curl_pid(url):
    proc = subprocess.Popen(["curl", "-s", "-o", "/dev/null", url])
    assert proc.wait(timeout=60) == 0
    return proc.pid


def test_http_exchange_is_captured_at_both_ends(capdump, http_server):
    port, server = http_server
    tracer = Tracer(capdump, "--port", port)
    client = curl_pid(f"http://127.0.0.1:{port}/big.bin")
    events = tracer.stop()

    [client_open] = of_kind(events, "open", tgid=client)
    assert client_open["role"] == "client"
    assert client_open["remote"] == f"127.0.0.1:{port}"
    [server_open] = of_kind(events, "open", tgid=server)
    assert server_open["role"] == "server"
    assert server_open["local"] == f"127.0.0.1:{port}"
    assert server_open["remote"] == client_open["local"]

    c, s = client_open["conn"], server_open["conn"]
    request = of_kind(events, "data", tgid=client, conn=c, dir="egress")
    assert request[0]["bytes"].startswith(r"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:")
    received = of_kind(events, "data", tgid=server, conn=s, dir="ingress")
    assert received[0]["bytes"] == request[0]["bytes"]
    sent = of_kind(events, "data", tgid=server, conn=s, dir="egress")
    assert sent[0]["bytes"].startswith(r"HTTP/1.0 200 OK\r\n")
    # Every byte of the response is accounted for, most of it beyond the prefix.
    calls = [e for e in sent if e.get("offset", "0") == "0"]  # a call's first record
    assert sum(int(e["len"]) for e in calls) > 307200
    assert any(int(e["len"]) > int(e["captured"]) for e in calls)
    assert all(int(e["captured"]) <= 4096 for e in events if e["kind"] == "data")
    assert sum(int(e["len"]) for e in of_kind(events, "data", tgid=client, conn=c, dir="ingress")
               if e.get("offset", "0") == "0") == sum(int(e["len"]) for e in calls)
    # A call longer than the capture also brings its last 256 bytes, at their offset.
    tails = [e for e in sent if e.get("offset", "0") != "0"]
    assert len(tails) == sum(1 for e in calls if int(e["len"]) > int(e["captured"]))
    assert all(int(e["offset"]) + int(e["captured"]) == int(e["len"]) and int(e["captured"]) == 256 for e in tails)
    assert int(tracer.counters["uncaptured"]) > 0
    assert tracer.counters["lost"] == "0"
    for e in of_kind(events, "data", conn=c) + of_kind(events, "data", conn=s):
        assert int(e["enter"]) <= int(e["exit"])

    assert of_kind(events, "close", tgid=client, conn=c)
    assert of_kind(events, "close", tgid=server, conn=s)


def test_capture_size_is_configurable(capdump, http_server):
    port, server = http_server
    tracer = Tracer(capdump, "--port", port, "--capture-bytes", 16384)
    curl(f"http://127.0.0.1:{port}/big.bin")
    events = tracer.stop()
    sent = of_kind(events, "data", tgid=server, dir="egress")
    assert max(int(e["captured"]) for e in sent) == 16384


def test_pid_selection_sees_only_that_process(capdump, http_server):
    port, server = http_server
    tracer = Tracer(capdump, "--pid", server)
    curl(f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/index.html")
    events = tracer.stop()
    traced = [e for e in events if e["kind"] in ("open", "data", "close", "exec", "exit")]
    assert of_kind(events, "data", tgid=server)
    assert {e["tgid"] for e in traced} == {str(server)}


FORKER = textwrap.dedent("""
    import os, socket, sys
    port = int(sys.argv[1])
    sys.stdin.readline()
    pid = os.fork()
    if pid == 0:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /from-the-child HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"); s.recv(100); s.close()
        print(os.getpid(), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
""")


def test_forked_children_of_a_selected_process_are_traced(capdump, http_server):
    port, server = http_server
    parent = subprocess.Popen([sys.executable, "-c", FORKER, str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tracer = Tracer(capdump, "--pid", parent.pid)
    parent.stdin.write("go\n")
    parent.stdin.flush()
    child = parent.stdout.readline().strip()
    assert parent.wait(timeout=30) == 0
    events = tracer.stop()
    [request] = of_kind(events, "data", tgid=child, dir="egress")
    assert "GET /from-the-child" in request["bytes"]
    assert of_kind(events, "open", tgid=child, role="client")
    assert of_kind(events, "exit", tgid=child)
    assert not of_kind(events, "data", tgid=server), "the server was not selected"


def test_decide_mode_forgets_a_verdict_at_exec(capdump, http_server, tmp_path):
    port, server = http_server
    script = textwrap.dedent(f"""
        import os, socket, sys
        def get(path):
            s = socket.create_connection(("127.0.0.1", {port}))
            s.sendall(b"GET " + path + b" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"); s.recv(100); s.close()
        if len(sys.argv) > 1:
            get(b"/after-exec")
        else:
            sys.stdin.readline()
            get(b"/before-exec")
            os.execv(sys.executable, [sys.executable, sys.argv[0], "again"])
    """)
    path = tmp_path / "exec_twice.py"
    path.write_text(script)
    proc = subprocess.Popen([sys.executable, str(path)], stdin=subprocess.PIPE, text=True)
    tracer = Tracer(capdump, "--mode", "decide", "--port", port, "--ignore-pid", proc.pid)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0
    events = tracer.stop()
    mine = of_kind(events, "data", tgid=proc.pid)
    assert [e for e in mine if "/after-exec" in e["bytes"]]
    assert not [e for e in mine if "/before-exec" in e["bytes"]]
    assert of_kind(events, "exec", tgid=proc.pid)
    # Undecided processes (the server) are sent too, for user space to decide.
    assert [e for e in of_kind(events, "data", tgid=server) if "/before-exec" in e["bytes"]]


def test_tracer_sees_neither_itself_nor_its_requests_at_the_server(capdump, http_server):
    port, server = http_server
    tracer = Tracer(capdump, "--port", port, "--self-connect", port)
    time.sleep(0.5)
    curl(f"http://127.0.0.1:{port}/index.html")
    events = tracer.stop()
    assert "self request done" in tracer.stderr
    assert not [e for e in events if e.get("tgid") == str(tracer.pid)]
    assert not [e for e in events if "from-the-tracer" in e.get("bytes", "")]
    # The curl request next to it is seen.
    assert [e for e in of_kind(events, "data", tgid=server) if "GET /index.html" in e["bytes"]]
    assert int(tracer.counters["filtered"]) >= 1


CHILD = textwrap.dedent("""
    import os, socket, sys, tempfile
    port = int(sys.argv[1])
    early = socket.create_connection(("127.0.0.1", port))   # opened before the tracer
    print(early.fileno(), flush=True)
    sys.stdin.readline()                                     # the tracer is ready
    # Not TCP: a file, a pipe, a unix socket pair, UDP.
    with tempfile.TemporaryFile() as f:
        os.write(f.fileno(), b"GET /file HTTP/1.1\\r\\n\\r\\n"); os.lseek(f.fileno(), 0, 0); os.read(f.fileno(), 100)
    r, w = os.pipe()
    os.writev(w, [b"GET /pipe ", b"HTTP/1.1\\r\\n\\r\\n"]); os.readv(r, [bytearray(100)])
    a, b = socket.socketpair()
    a.sendmsg([b"GET /unix HTTP/1.1\\r\\n\\r\\n"]); b.recvmsg(100)
    a.send(b"GET /unix2 HTTP/1.1\\r\\n\\r\\n"); b.recv(100)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    u.sendto(b"GET /udp HTTP/1.1\\r\\n\\r\\n", u.getsockname()); u.recvfrom(100)
    # TCP with gather/scatter calls, on the connection made before the tracer.
    early.sendmsg([b"GET /index.html HTTP/1.1\\r\\n", b"Host: x\\r\\n\\r\\n"])
    head = bytearray(9); rest = bytearray(4096)
    os.readv(early.fileno(), [head, rest])
    early.close()
""")


def test_only_tcp_sockets_produce_data_and_old_sockets_are_adopted(capdump, http_server):
    port, server = http_server
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tcp_fd = child.stdout.readline().strip()
    tracer = Tracer(capdump, "--pid", child.pid, "--pid", server)
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.wait(timeout=30) == 0
    events = tracer.stop()

    mine = of_kind(events, "data", tgid=child.pid)
    assert mine and {e["fd"] for e in mine} == {tcp_fd}
    [opened] = of_kind(events, "open", tgid=child.pid)
    assert opened["role"] == "unknown" and opened["fd"] == tcp_fd
    assert opened["remote"] == f"127.0.0.1:{port}"
    [request] = of_kind(events, "data", tgid=child.pid, dir="egress")
    assert request["bytes"] == r"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
    response = of_kind(events, "data", tgid=child.pid, dir="ingress")
    assert response[0]["bytes"].startswith(r"HTTP/1.0 200 OK\r\n")
    # The server accepted before the tracer too: adopted with an unknown role.
    [server_open] = of_kind(events, "open", tgid=server)
    assert server_open["role"] == "unknown" and server_open["local"] == f"127.0.0.1:{port}"
    assert of_kind(events, "close", tgid=child.pid, conn=opened["conn"])


def test_ignored_connection_stops_producing_data(capdump):
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    received = []

    def serve():
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(4096):
                received.append(data)

    thread = threading.Thread(target=serve)
    thread.start()
    tracer = Tracer(capdump, "--port", port, "--ignore-after-first-data")
    client = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import socket, time
        s = socket.create_connection(("127.0.0.1", {port}))
        for i in range(5):
            s.send(b"message %d" % i); time.sleep(0.3)
        s.close()
    """)])
    assert client.wait(timeout=30) == 0
    thread.join(timeout=10)
    listener.close()
    events = tracer.stop()

    assert len(received) == 5
    [opened] = of_kind(events, "open", tgid=client.pid)
    data = of_kind(events, "data", tgid=client.pid)
    assert [e["bytes"] for e in data] == ["message 0"]
    assert of_kind(events, "close", tgid=client.pid, conn=opened["conn"])
    server_data = of_kind(events, "data", tgid=os.getpid())
    assert [e["bytes"] for e in server_data] == ["message 0"]
    assert int(tracer.counters["filtered"]) >= 8


def test_events_are_delivered_in_batches(capdump, http_server):
    port, server = http_server
    tracer = Tracer(capdump, "--port", port)
    curl(*[f"http://127.0.0.1:{port}/index.html"] * 200)
    events = tracer.stop()
    records = int(tracer.polls["records"])
    assert len(of_kind(events, "data", tgid=server)) >= 400
    # Far fewer polls than records, and the kernel almost never woke us for
    # data (an exec, of any process on the host, wakes the reader at once).
    assert int(tracer.polls["most"]) >= 20
    assert int(tracer.polls["nonempty"]) * 10 < records
    execs = len(of_kind(events, "exec"))
    assert int(tracer.counters["wakeups"]) <= execs + records // 100
