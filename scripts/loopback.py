"""Loopback ports for the end-to-end tests and the benchmarks (one copy, used
by Tests/e2e/conftest.py and bench/run.py)."""

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
