"""The servers the soak test traces: a garbage server (answers every request
with random bytes) and a sink (reads everything, never answers). Run as
`python3 servers.py garbage|sink PORT`; prints "listening" when ready."""
import os
import random
import socketserver
import sys


class Garbage(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        try:
            self.request.recv(65536)
            reply = os.urandom(random.randint(1, 8192))
            if random.random() < 0.5:  # half look like a response at first
                reply = b"HTTP/1.1 200 OK\r\n" + reply
            self.request.sendall(reply)
        except OSError:
            pass


class Sink(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(60)
        try:
            while self.request.recv(1 << 20):
                pass
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    with Server(("127.0.0.1", port), {"garbage": Garbage, "sink": Sink}[kind]) as server:
        print("listening", flush=True)
        server.serve_forever()
