#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/TARGET/NAME).

The seeds are committed; this script documents how each was made and
rewrites them when an input format changes (python3 fuzz/seeds.py).
Formats: see fuzz/Sources/l7fuzz/Script.swift (tracker targets), HPACKTarget.swift,
RecordTarget.swift and SpanInputTargets.swift."""
import os
import shutil
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
INGRESS, EGRESS = 0, 1


# --- tracker scripts (Script.swift) ---
def data(payload, conn=0, direction=INGRESS, hole=None, tls=False):
    """One call; payloads over 255 bytes use the long form."""
    flags = (1 if hole is not None else 0) | (2 if tls else 0)
    if len(payload) > 255:
        out = bytes([4 | conn << 3 | direction << 5 | flags << 6]) + struct.pack("<H", len(payload)) + payload
    else:
        out = bytes([0 | conn << 3 | direction << 5 | flags << 6, len(payload)]) + payload
    return out + (bytes([hole]) if hole is not None else b"")


def split(payload, cut, conn=0, direction=INGRESS, gap=False):
    return bytes([5 | conn << 3 | direction << 5 | (1 if gap else 0) << 6, len(payload), cut]) + payload


def frame(ftype, flags, stream, payload=b"", conn=0, direction=INGRESS):
    return bytes([6 | conn << 3 | direction << 5, ftype, flags, stream, len(payload)]) + payload


def control(op, conn=0):
    """op: 0 open as server, 1 open as client, 2 close, 3 process exit."""
    return bytes([7 | conn << 3 | op << 6])


GET = b"GET /users/42?x=1 HTTP/1.1\r\nHost: shop\r\nUser-Agent: t\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
POST = b"POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Length: 11\r\n\r\n{\"id\":1234}"
CHUNKED = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n"

def tls_record(ctype, body):
    return bytes([ctype, 3, 3]) + struct.pack(">H", len(body)) + body


CLIENT_HELLO = tls_record(0x16, bytes([1, 0, 0, 40, 3, 3]) + bytes(32) + bytes([0, 0, 2, 0x13, 1, 1, 0]))
SERVER_HELLO = tls_record(0x16, bytes([2, 0, 0, 48, 3, 3]) + bytes(32) + bytes([0, 0x13, 1, 0, 0, 6, 0, 0x2B, 0, 2, 3, 4]))

HTTP1 = {
    "get-ok": data(GET) + data(OK, direction=EGRESS),
    # TLS no probe reads: handshake, Finished, application data both ways; then an old TLS connection.
    "tls-unreadable": data(CLIENT_HELLO) + data(SERVER_HELLO + tls_record(0x17, bytes(60)), direction=EGRESS)
    + data(tls_record(0x14, b"\x01") + tls_record(0x17, bytes(53)) + tls_record(0x17, bytes(30)))
    + data(tls_record(0x17, bytes(40))) + data(tls_record(0x17, bytes(50)), direction=EGRESS)
    + control(1, conn=2) + data(tls_record(0x17, bytes(40)), conn=2) + data(OK, conn=2, direction=EGRESS, tls=True),
    "post-chunked": data(POST[:30]) + data(POST[30:]) + data(CHUNKED, direction=EGRESS),
    "pipelined": data(GET + POST) + data(OK + CHUNKED, direction=EGRESS),
    "split-gap": split(GET, 17, gap=True) + data(OK, direction=EGRESS, hole=3),
    "client": control(1, conn=1) + data(GET, conn=1, direction=EGRESS) + data(OK, conn=1) + control(2, conn=1),
    "continue-close": data(b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    + data(b"HTTP/1.1 100 Continue\r\n\r\n", direction=EGRESS) + data(b"abc")
    + data(b"HTTP/1.0 200 OK\r\n\r\nuntil close", direction=EGRESS) + control(2),
    "tls-upgrade": data(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", tls=True)
    + data(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", direction=EGRESS, tls=True) + control(3),
}

# HPACK blocks of RFC 7541 Appendix C (requests) and a response.
REQ1 = bytes.fromhex("828684410f7777772e6578616d706c652e636f6d")
REQ2_HUFFMAN = bytes.fromhex("828684be5886a8eb10649cbf")
REQ1_HUFFMAN = bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff")
RESP = bytes.fromhex("88") + b"\x5c\x015"  # :status 200, content-length: 5 (literal, indexed name 28)
SETTINGS = struct.pack(">HI", 1, 4096) + struct.pack(">HI", 4, 65535)
END_STREAM, END_HEADERS, ACK = 1, 4, 1

HTTP2 = {
    "get-ok": frame(4, 0, 0, SETTINGS) + frame(4, 0, 0, direction=EGRESS) + frame(4, ACK, 0)
    + frame(1, END_STREAM | END_HEADERS, 1, REQ1)
    + frame(1, END_HEADERS, 1, RESP, direction=EGRESS) + frame(0, END_STREAM, 1, b"hello", direction=EGRESS),
    "huffman-two-streams": frame(4, 0, 0) + frame(1, END_STREAM | END_HEADERS, 1, REQ1_HUFFMAN)
    + frame(1, END_STREAM | END_HEADERS, 3, REQ2_HUFFMAN)
    + frame(1, END_STREAM | END_HEADERS, 3, RESP, direction=EGRESS)
    + frame(1, END_STREAM | END_HEADERS, 1, RESP, direction=EGRESS),
    "continuation-reset": frame(1, 0, 1, REQ1[:5]) + frame(9, END_HEADERS, 1, REQ1[5:])
    + frame(3, 0, 1, struct.pack(">I", 8)) + frame(7, 0, 0, struct.pack(">II", 1, 0), direction=EGRESS),
    "post-data-hole": frame(1, END_HEADERS, 1, bytes.fromhex("838684")) + frame(0, 0, 1, b"x" * 40)
    + data(b"\x00\x00\x10\x00\x01\x00\x00\x00\x01" + b"y" * 16, hole=20)
    + frame(1, END_STREAM | END_HEADERS, 1, RESP, direction=EGRESS),
    "window-ping-priority": frame(8, 0, 0, struct.pack(">I", 1000)) + frame(6, 0, 0, b"12345678")
    + frame(2, 0, 1, struct.pack(">IB", 0, 16)) + frame(1, 0x20 | END_HEADERS | END_STREAM, 1, bytes(5) + REQ1),
}


# --- HPACK alone (HPACKTarget.swift): settings byte, then u16be-length blocks ---
def blocks(settings, *bs):
    return bytes([settings]) + b"".join(struct.pack(">H", len(b)) + b for b in bs)


HPACK = {
    "rfc-c3": blocks(1, REQ1, bytes.fromhex("828684be58086e6f2d6361636865"),
                     bytes.fromhex("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565")),
    "rfc-c4-huffman": blocks(1, REQ1_HUFFMAN, REQ2_HUFFMAN, b"", RESP),
    "size-update": blocks(7, bytes.fromhex("3fe11f") + REQ1, bytes.fromhex("20") + REQ1),
    "mid-connection": blocks(0, bytes.fromhex("c0c1be"), REQ1, bytes.fromhex("bebf")),
}

HUFFMAN = {
    "www.example.com": bytes.fromhex("f1e3c2e5f23a6ba0ab90f4ff"),
    "no-cache": bytes.fromhex("a8eb10649cbf"),
    "custom-value": bytes.fromhex("25a849e95bb8e8b4bf"),
    "date": bytes.fromhex("d07abe941054d444a8200595040b8166e082a62d1bff"),
}

TRACEPARENT = {
    "valid": b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "with-state": b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nrojo=00f067aa0ba902b7,congo=t61rcWkgMzE\rt@v=1",
    "future-version": b" cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra\t",
}

TARGET = {
    "origin": b"/users/12345/orders/8f14e45f-ceea-467d-a9e2-6d6f5f7b9e1c?page=2#top",
    "absolute": b"http://user:pw@[::1]:8080/a/b%20c/ORD-2024-000123?q",
    "authority": b"example.com:443",
    "patterns": b"/api/v1/users/u1234567/items/9\n/api/v1/users/{id}/items/*\n/api/**",
    "asterisk": b"*",
}

RESOURCE = {
    "environ": b"PATH=/usr/bin\0OTEL_SERVICE_NAME=cart\0OTEL_RESOURCE_ATTRIBUTES=service.name=shop, deployment.environment=prod%20eu,k=v%2Cw\0\0",
    "title": b"nginx: worker process\0\0\0",
    "bare": b"a=1,b=%E2%82%AC,,c = d ",
}


# --- kernel records (RecordTarget.swift): u16le length + record ---
def header(kind, tgid=4242, tid=4242, ns=1000):
    return struct.pack("<B3xIIIQ", kind, tgid, tid, 0, ns)


def address(port):
    return struct.pack("<BxH16s", 4, port, bytes([127, 0, 0, 1]))


def rec(body):
    return struct.pack("<H", len(body)) + body


def open_rec(conn, role, ns):
    return rec(header(1, ns=ns) + struct.pack("<Qi B3x", conn, 7, role) + address(8080) + address(40000))


def data_rec(conn, direction, payload, ns, returned=None, offset=0, more=False):
    returned = len(payload) if returned is None else returned
    return rec(header(2, ns=ns) + struct.pack("<QQQiIBBBxI", conn, ns - 5, returned, 7, len(payload),
                                              direction, 0, 1 if more else 0, offset) + payload)


RECORD = {
    "exchange": open_rec(1, 2, 100) + data_rec(1, 1, GET, 200) + data_rec(1, 0, OK, 300)
    + rec(header(3, ns=400) + struct.pack("<Qi4x", 1, 7)),
    "chunks-exec-exit": rec(header(4, ns=50) + struct.pack("<I4x", 1)) + data_rec(2, 1, GET[:20], 60, returned=len(GET), more=True)
    + data_rec(2, 1, GET[40:], 61, returned=len(GET), offset=40) + rec(header(5, ns=70)),
}

# --- known bugs of issue 21, item 0: inputs that must trip the memory invariants ---
def hpack_length(n):
    """An HPACK string length (7-bit prefix integer, RFC 7541 §5.1), not Huffman."""
    if n < 127:
        return bytes([n])
    out, n = [127], n - 127
    while n >= 128:
        out.append(n % 128 | 128)
        n //= 128
    return bytes(out + [n])


def amplification(value, references):
    """Preface (the target's prologue), then one HEADERS frame on stream 1 without
    END_STREAM: a literal with indexing of a `value`-byte value, then `references`
    1-byte indexed references (0xBE) to it, each copying the whole entry. The
    block stays under the targets' 4 KiB head limit."""
    block = bytes.fromhex("828684010168") + b"\x40\x01x" + hpack_length(value) + b"a" * value + b"\xbe" * references
    headers = struct.pack(">I", len(block))[1:] + bytes([1, END_HEADERS]) + struct.pack(">I", 1)
    return frame(4, 0, 0) + data(headers + block)


def pipelining(requests):
    """`requests` pipelined requests that never get a response, in calls of about 60 KB."""
    one = b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n"
    per_call = 60_000 // len(one)
    calls, left = [], requests
    while left > 0:
        calls.append(data(one * min(per_call, left)))
        left -= per_call
    return b"".join(calls)


KNOWN = {
    "http2-hpack-amplification": amplification(1000, 3000),
    "http1-pipelining-no-response": pipelining(20_000),
}

CORPORA = {"http1": HTTP1, "http2": HTTP2, "hpack": HPACK, "huffman": HUFFMAN, "traceparent": TRACEPARENT,
           "target": TARGET, "resource": RESOURCE, "record": RECORD}

if __name__ == "__main__":
    # --known DIR: writes the known-bug inputs (large, so generated, not committed).
    if len(sys.argv) == 3 and sys.argv[1] == "--known":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, content in KNOWN.items():
            with open(os.path.join(sys.argv[2], name), "wb") as f:
                f.write(content)
        sys.exit(0)
    for target, seeds in CORPORA.items():
        folder = os.path.join(ROOT, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, content in seeds.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(content)
    print(f"seeds written to {ROOT}")
