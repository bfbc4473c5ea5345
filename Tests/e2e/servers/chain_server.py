"""The middle of a call chain: a threading HTTP/1.1 server that, while
handling each GET /orders/<id>, asks a second server for /stock/<id> and
answers with what it said. One thread per connection, one request at a
time per thread: a thread-per-request server as Python's and WSGI's are.

    chain_server.py <port> <stock port>
"""
import http.client
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOCK_PORT = int(sys.argv[2])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        item = self.path.rsplit("/", 1)[-1]
        stock = http.client.HTTPConnection("127.0.0.1", STOCK_PORT, timeout=10)
        stock.request("GET", f"/stock/{item}")
        answer = stock.getresponse()
        body = answer.read()
        stock.close()
        reply = b"stock said " + str(answer.status).encode() + b": " + body + b"\n"
        self.send_response(200 if answer.status == 200 else 502)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
