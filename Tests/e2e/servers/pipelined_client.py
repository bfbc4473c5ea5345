"""Sends N GET requests in a single write on one connection (pipelining) and
reads the N responses, then closes. Usage: pipelined_client.py PORT N PATH"""
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from loopback import read_http1_responses  # noqa: E402

port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: pipeliner/1.0\r\n\r\n".encode()
with socket.create_connection(("127.0.0.1", port)) as s:
    s.sendall(request * count)
    responses = read_http1_responses(s, count)
print(responses)
sys.exit(0 if responses == count else 1)
