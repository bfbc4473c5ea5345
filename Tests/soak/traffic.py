"""Hostile and normal traffic for the soak test, to 127.0.0.1 only. Every
loop is bounded by a count and a deadline."""
import os
import random
import socket
import struct
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
END_STREAM, END_HEADERS = 0x1, 0x4
# :method GET, :scheme http, :path /, :authority "h" (literal, not indexed).
GET_BLOCK = bytes.fromhex("828684010168")


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s, limit=1 << 20):
    """Reads until the peer closes (or `limit` bytes, or the socket's timeout)."""
    data = b""
    try:
        while len(data) < limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def http1_get(port, path, extra_headers=b""):
    """One request on its own connection; the response status, or None."""
    try:
        with connect(port) as s:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: soak\r\n" + extra_headers
                      + b"Connection: close\r\n\r\n")
            head = read_all(s)
        return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else None
    except (OSError, ValueError, IndexError):
        return None


def parallel(count, workers, deadline, job):
    """Runs job(i) for i < count on `workers` threads until the deadline; how many returned True."""
    lock, state = threading.Lock(), {"next": 0, "done": 0}

    def worker():
        while time.monotonic() < deadline:
            with lock:
                i = state["next"]
                if i >= count:
                    return
                state["next"] += 1
            if job(i):
                with lock:
                    state["done"] += 1

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return state["done"]


def hold_idle(port, count, seconds):
    """Opens `count` connections that send nothing, holds them, closes them."""
    sockets, deadline = [], time.monotonic() + max(30.0, seconds * 4)
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            try:
                sockets.append(connect(port))
            except OSError:
                break
        time.sleep(seconds)
        return len(sockets)
    finally:
        for s in sockets:
            s.close()


def slowloris(port, count, seconds):
    """`count` connections that send a request head one header line a second and never finish it."""
    sockets = []
    try:
        for i in range(count):
            try:
                s = connect(port)
                s.sendall(b"GET /slow/%d HTTP/1.1\r\nHost: soak\r\n" % i)
                sockets.append(s)
            except OSError:
                break
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for s in sockets:
                try:
                    s.send(b"X-Slow: a\r\n")
                except OSError:
                    pass
            time.sleep(1.0)
        return len(sockets)
    finally:
        for s in sockets:
            s.close()


def long_header_lines(port, count, size=60 * 1024):
    """Requests with one header line of `size` bytes; how many got any status."""
    line = b"X-Long: " + b"a" * size + b"\r\n"
    return sum(http1_get(port, "/long/%d" % i, line) is not None for i in range(count))


def random_bytes(ports, count, deadline):
    def job(i):
        try:
            with connect(ports[i % len(ports)], timeout=2) as s:
                s.sendall(os.urandom(random.randint(1, 4096)))
                s.shutdown(socket.SHUT_WR)
                read_all(s, 65536)
            return True
        except OSError:
            return False
    return parallel(count, 4, deadline, job)


def requests_to_garbage(port, count, deadline):
    """Normal requests to the server that answers random bytes."""
    return parallel(count, 4, deadline, lambda i: http1_get(port, "/garbage/%d" % i) is not None or True)


def h2_session(port, frames, read_seconds=0.5):
    """One h2c connection: preface, SETTINGS, then `frames` (bytes, sent in pieces)."""
    with connect(port) as s:
        s.sendall(PREFACE + frame(4, 0, 0))
        for start in range(0, len(frames), 1 << 16):
            s.sendall(frames[start:start + (1 << 16)])
        s.settimeout(read_seconds)
        read_all(s, 1 << 24)


def rapid_reset(port, streams, connections, deadline):
    """HEADERS immediately followed by RST_STREAM (CANCEL), `streams` per connection."""
    def job(_):
        batch = b"".join(frame(1, END_HEADERS | END_STREAM, 2 * k + 1, GET_BLOCK) + frame(3, 0, 2 * k + 1, struct.pack(">I", 8))
                         for k in range(streams))
        try:
            h2_session(port, batch)
            return True
        except OSError:
            return False
    return parallel(connections, 2, deadline, job) * streams


def far_indexes(port, streams, deadline):
    """HEADERS whose blocks name dynamic-table entries far beyond the table."""
    def block(k):
        huge = bytes([0xFF, 0x80 | (k & 0x7F), 0x80, 0x01])  # 127 + ~2M
        return bytes.fromhex("828684") + huge + bytes([0xBE + (k % 60)])
    payload = b"".join(frame(1, END_HEADERS | END_STREAM, 2 * k + 1, block(k)) for k in range(streams))
    try:
        h2_session(port, payload)
        return streams
    except OSError:
        return 0


def random_frames(port, connections, deadline):
    def job(_):
        frames = b""
        for _ in range(20):
            payload = os.urandom(random.randint(0, 200))
            frames += frame(random.randint(0, 10), random.randint(0, 255), random.randint(0, 9), payload)
        try:
            h2_session(port, frames, read_seconds=0.2)
            return True
        except OSError:
            return False
    return parallel(connections, 4, deadline, job)


def short_connections(port, count, deadline, prefix):
    return parallel(count, 4, deadline, lambda i: http1_get(port, "%s/%d" % (prefix, i)) == 200)


def h2_start(port):
    """An h2c connection whose preface the tracer has seen by itself: from then on
    the capture sends large calls whole (it knows the connection is HTTP/2)."""
    s = connect(port)
    s.sendall(PREFACE + frame(4, 0, 0))
    time.sleep(0.3)
    return s


def hpack_amplification(port, frames, references):
    """Issue 21 item 0: one literal with indexing of a 4,000-byte value, then
    HEADERS frames (stream 1, no END_STREAM) of 1-byte references to it, each
    copying the entry into the stream's decoded list."""
    first = GET_BLOCK + b"\x40\x01x" + bytes([0x7F, 0xA1, 0x1E]) + b"a" * 4000
    sent = 0
    with h2_start(port) as s:
        s.sendall(frame(1, END_HEADERS, 1, first))
        for _ in range(frames):
            s.sendall(frame(1, END_HEADERS, 1, b"\xbe" * references))
            sent += 1
            time.sleep(0.05)
        time.sleep(1.0)
    return sent


def pipelining(port, total_bytes):
    """Pipelined requests that are never answered (the sink only reads), in
    writes the capture copies whole (4 KB, its default per call)."""
    one = b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n"
    chunk = one * (4000 // len(one))
    sent = 0
    with connect(port) as s:
        while sent < total_bytes:
            s.sendall(chunk)
            sent += len(chunk)
        time.sleep(1.0)
    return sent // len(one)
