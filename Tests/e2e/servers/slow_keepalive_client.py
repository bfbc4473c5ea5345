"""Opens one keep-alive connection, sends a request, then waits for a line on
stdin before each further request: the connection predates a tracer started
in between. Usage: slow_keepalive_client.py PORT PATH..."""
import http.client
import sys

port, paths = int(sys.argv[1]), sys.argv[2:]
connection = http.client.HTTPConnection("127.0.0.1", port)
for index, path in enumerate(paths):
    if index:
        sys.stdin.readline()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    print(response.status, flush=True)
connection.close()
