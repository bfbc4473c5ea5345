"""A minimal h2c server that processes only stream 1: it reads the client's
first frames, answers GOAWAY (last stream 1), then 200 on stream 1, and
closes. Streams above 1 were never processed. Usage: goaway_server.py PORT"""
import socket
import struct
import sys
import time


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


port = int(sys.argv[1])
with socket.create_server(("127.0.0.1", port)) as server:
    while True:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(0.5)
            received = b""
            try:
                while received.count(b"\x01\x05") < 2:  # two HEADERS frames with END_STREAM|END_HEADERS
                    data = conn.recv(65536)
                    if not data:
                        break
                    received += data
            except socket.timeout:
                pass
            goaway = frame(0x7, 0, 0, struct.pack(">II", 1, 0))
            conn.sendall(frame(0x4, 0, 0, b"") + goaway + frame(0x1, 0x5, 1, b"\x88"))
            time.sleep(0.3)
