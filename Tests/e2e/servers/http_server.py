"""A small HTTP/1.1 keep-alive server for the end-to-end tests.

GET  /status/<code>   answers with that status
GET  /bytes/<n>       answers with n bytes
POST /...             reads the whole body, answers 201 with its size
GET  anything else    answers 200 "ok"
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"ok"):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b"status")
        elif path.startswith("/bytes/"):
            self._send(200, b"x" * int(path.rsplit("/", 1)[1]))
        else:
            self._send(200)

    do_HEAD = do_GET

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        self._send(201, str(length - remaining).encode())


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("listening", flush=True)
    server.serve_forever()
