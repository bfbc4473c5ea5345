#!/usr/bin/env python3
"""Records real HTTP traffic for the parser benchmark.

    python3 bench/parsers/tools/record.py http1 bench/parsers/streams/http1.l7rec
    python3 bench/parsers/tools/record.py http2 bench/parsers/streams/http2.l7rec

Starts a real server (nginx for HTTP/1.1, nghttpd for h2c) on a loopback port,
a TCP relay in front of it on another, and real clients (curl, python's
http.client, h2load) against the relay. The relay forwards every recv() as is
and writes it to the recording, so the recording keeps the call sizes the
server's peer really produced.

Recording format (all integers big-endian), after the 8-byte magic b"L7REC1\\n\\0":
    u32 connection index, u8 direction (0 client→server, 1 server→client),
    u32 length, then that many bytes.
Records are in the order the relay received them.
Every process this script starts is stopped by its pid.
"""
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MAGIC = b"L7REC1\n\0"


class Relay:
    """Accepts on `port`, connects each client to `upstream`, forwards and records."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.records = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                index = self.connections
                self.connections += 1
            threading.Thread(target=self.pump, args=(index, 0, client, server), daemon=True).start()
            threading.Thread(target=self.pump, args=(index, 1, server, client), daemon=True).start()

    def pump(self, index, direction, source, sink):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:
                self.records.append((index, direction, data))
            sink.sendall(data)

    def write(self, path):
        time.sleep(0.5)
        with self.lock, open(path, "wb") as out:
            out.write(MAGIC)
            for index, direction, data in self.records:
                out.write(struct.pack(">IBI", index, direction, len(data)))
                out.write(data)
        sizes = [len(d) for _, _, d in self.records]
        print(f"record: {path}: {len(self.records)} records, {sum(sizes)} bytes, {self.connections} connections",
              file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def docroot(root):
    """Small static files of a web app: html, css, js, json, an icon."""
    (root / "static").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><html><head><title>shop</title>"
                                     "<link rel=stylesheet href=/static/app.css></head><body>"
                                     + "<div class=item>item</div>" * 40 + "</body></html>\n")
    (root / "static/app.css").write_text("body{margin:0;font:14px sans-serif}\n" * 12)
    (root / "static/app.js").write_text("function add(a,b){return a+b}\n" * 30)
    (root / "static/logo.png").write_bytes(bytes(range(256)) * 3)
    for n in range(20):
        (root / f"item{n}.json").write_text('{"id":%d,"name":"item %d","price":%d.99,"tags":["a","b"]}\n' % (n, n, n))


BROWSER = [
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Accept-Language: en-US,en;q=0.9,de;q=0.8",
    "Accept-Encoding: gzip, deflate",
    "Referer: http://shop.example/",
    "Cookie: session=4f2c9a1e7b3d; theme=dark; _ga=GA1.1.1234567890.1700000000",
    "Sec-Fetch-Dest: document",
    "Sec-Fetch-Mode: navigate",
    "Sec-Fetch-Site: same-origin",
    "Upgrade-Insecure-Requests: 1",
]
API = [
    "Accept: application/json",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl",
    "X-Request-Id: 7d0c1f5e-3b9a-4c1e-9a7f-2f6d8e1b4c3a",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "Cache-Control: no-cache",
]


def record_http1(path):
    with tempfile.TemporaryDirectory(prefix="l7rec-") as tmp:
        tmp = Path(tmp)
        docroot(tmp / "www")
        port = free_port()
        (tmp / "nginx.conf").write_text(f"""
worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
    types {{ text/html html; text/css css; application/javascript js; image/png png; application/json json; }}
    gzip on; gzip_min_length 0; gzip_types text/css application/javascript application/json;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location /api/ {{ default_type application/json; return 200 '{{"ok":true,"id":42}}\\n'; }}
    }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            relay = Relay(port)
            base = f"http://127.0.0.1:{relay.port}"
            pages = ["/", "/static/app.css", "/static/app.js", "/static/logo.png", "/missing.html"]
            # Browser-like: ~10 headers, gzip accepted (nginx answers css/js/json chunked).
            for _ in range(4):
                urls = [base + p for p in pages] + [f"{base}/item{n}.json" for n in range(0, 20, 2)]
                run(["curl", "-s", "-o", "/dev/null", *sum((["-H", h] for h in BROWSER), [])] + sum(
                    ([u, "-o", "/dev/null"] for u in urls), []))
            # API client: JSON GETs and POSTs with a body, identity encoding (Content-Length answers).
            for _ in range(4):
                urls = [f"{base}/item{n}.json" for n in range(20)]
                run(["curl", "-s", *sum((["-H", h] for h in API), [])] + sum(([u, "-o", "/dev/null"] for u in urls), []))
            api_posts(relay.port, 40)
            relay.write(path)
        finally:
            nginx.terminate()
            nginx.wait()


def api_posts(port, count):
    """python's http.client: POST JSON bodies on one keep-alive connection."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for n in range(count):
        body = ('{"order":%d,"items":[{"sku":"A-%d","qty":%d}],"note":"%s"}' % (n, n, n % 5 + 1, "x" * (n % 7 * 10)))
        conn.request("POST", f"/api/orders?n={n}", body=body,
                     headers={"Content-Type": "application/json", "Accept": "application/json",
                              "User-Agent": "python-http.client/3", "X-Request-Id": f"req-{n:05d}",
                              "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2ln"})
        conn.getresponse().read()
    conn.close()


def record_http2(path):
    with tempfile.TemporaryDirectory(prefix="l7rec-") as tmp:
        tmp = Path(tmp)
        docroot(tmp / "www")
        port = free_port()
        nghttpd = subprocess.Popen(["nghttpd", "--no-tls", "-d", str(tmp / "www"), str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            relay = Relay(port)
            base = f"http://127.0.0.1:{relay.port}"
            uris = [base + p for p in ["/", "/static/app.css", "/static/app.js", "/static/logo.png", "/missing"]]
            uris += [f"{base}/item{n}.json" for n in range(20)]
            headers = sum((["-H", h.replace(": ", ":", 1).lower()] for h in BROWSER[:3] + API[1:4]), [])
            # Two connections, 10 streams in flight each; the repeated fields
            # come from HPACK's dynamic table after their first use.
            run(["h2load", "-n", "400", "-c", "2", "-m", "10", *headers, *uris])
            relay.write(path)
        finally:
            nghttpd.terminate()
            nghttpd.wait()


def run(args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, timeout=60)


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    {"http1": record_http1, "http2": record_http2}[kind](out)
