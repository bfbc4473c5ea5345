"""The test HTTP/1.1 server (http_server.py) behind TLS: Python's ssl
module, so OpenSSL's SSL_read_ex/SSL_write_ex do the work.

usage: https_server.py PORT CERT KEY
"""
import ssl
import sys
from http.server import ThreadingHTTPServer

from http_server import Handler

if __name__ == "__main__":
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening", flush=True)
    server.serve_forever()
