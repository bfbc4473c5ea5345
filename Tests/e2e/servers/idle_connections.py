"""Opens COUNT keep-alive connections to PORT, each after one answered
request, says "open" on stdout, and holds them until its stdin closes; then
closes them all and exits. Usage: idle_connections.py PORT COUNT"""
import resource
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
request = f"GET /idle HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
sockets = []
while len(sockets) < count:
    batch = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(min(250, count - len(sockets)))]
    for s in batch:
        s.sendall(request)
    for s in batch:
        if not s.recv(4096).startswith(b"HTTP/1.1 200"):
            sys.exit("no answer")
    sockets.extend(batch)
print("open", flush=True)
sys.stdin.read()
for s in sockets:
    s.close()
