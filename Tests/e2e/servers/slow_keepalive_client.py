"""Opens one keep-alive connection, sends a request, then waits for a line on
stdin before each further request: the connection predates a tracer started
in between. Usage: slow_keepalive_client.py [--tls] PORT PATH...
(--tls: HTTPS through Python's ssl, the server's certificate not checked)."""
import http.client
import ssl
import sys

tls = sys.argv[1] == "--tls"
args = sys.argv[2:] if tls else sys.argv[1:]
port, paths = int(args[0]), args[1:]
if tls:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context())
else:
    connection = http.client.HTTPConnection("127.0.0.1", port)
for index, path in enumerate(paths):
    if index:
        sys.stdin.readline()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    print(response.status, flush=True)
connection.close()
