"""Loopback ports and HTTP/1.1 reading for the end-to-end tests and the
benchmarks (one copy, used by Tests/e2e/conftest.py, its client scripts and
bench/run.py)."""

import random
import socket
import time


def free_port():
    """A loopback port nobody listens on, below the kernel's ephemeral range:
    a port inside it can be taken at any moment as some client's local port,
    and a connect() to it while nothing listens yet can even connect to itself
    (TCP simultaneous open), which made a server look up before it was."""
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    top = low - 1 if low > 12000 else 32767
    for _ in range(200):
        port = random.randint(10000, top)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free loopback port")


def wait_for_port(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def read_http1_responses(sock, count, read_size=65536):
    """Reads up to `count` HTTP/1.1 responses with Content-Length bodies (or
    none) from `sock`, `read_size` bytes a call at most; returns how many
    arrived before the peer closed."""
    buffer, responses = b"", 0
    while responses < count:
        data = sock.recv(read_size)
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
    return responses
