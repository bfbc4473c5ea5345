"""Sends N GET requests in a single write on one connection (pipelining) and
reads the N responses, then closes. Usage: pipelined_client.py PORT N PATH"""
import socket
import sys

port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: pipeliner/1.0\r\n\r\n".encode()
with socket.create_connection(("127.0.0.1", port)) as s:
    s.sendall(request * count)
    buffer, responses = b"", 0
    while responses < count:
        data = s.recv(65536)
        if not data:
            break
        buffer += data
        while b"\r\n\r\n" in buffer:
            head, rest = buffer.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(rest) < length:
                break
            buffer = rest[length:]
            responses += 1
print(responses)
sys.exit(0 if responses == count else 1)
