"""A server that reads everything each connection sends and never answers
(a traced port under attack, whose application does not matter).
Usage: sink_server.py PORT [READ_SIZE]"""
import socket
import sys
import threading

port = int(sys.argv[1])
read_size = int(sys.argv[2]) if len(sys.argv) > 2 else 16384


def drain(conn):
    with conn:
        while conn.recv(read_size):
            pass


with socket.create_server(("127.0.0.1", port), backlog=64) as server:
    while True:
        conn, _ = server.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()
