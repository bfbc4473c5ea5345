"""A gRPC server over h2c for the end-to-end tests, without generated code:
generic handlers with raw-bytes messages. Service demo.Echo:
Unary (OK), NotFound, Internal, ServerStream (3 replies), ClientStream
(one reply after all requests), Bidi (one reply per request), Big (one
2 MiB reply). `grpc_server.py PORT [CERT KEY]`: h2c, or TLS with CERT/KEY."""
import sys
from concurrent import futures

import grpc


def unary(request, context):
    return b"pong:" + request


def not_found(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


def internal(request, context):
    context.abort(grpc.StatusCode.INTERNAL, "it broke")


def server_stream(request, context):
    for i in range(3):
        yield b"part-%d" % i


def client_stream(requests, context):
    return b"got %d" % sum(1 for _ in requests)


def bidi(requests, context):
    for r in requests:
        yield b"echo:" + r


def big(request, context):
    return b"x" * (2 * 1024 * 1024)


ident = lambda b: b
handlers = {
    "Unary": grpc.unary_unary_rpc_method_handler(unary, ident, ident),
    "NotFound": grpc.unary_unary_rpc_method_handler(not_found, ident, ident),
    "Internal": grpc.unary_unary_rpc_method_handler(internal, ident, ident),
    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, ident, ident),
    "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, ident, ident),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi, ident, ident),
    "Big": grpc.unary_unary_rpc_method_handler(big, ident, ident),
}

server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                     options=[("grpc.max_send_message_length", 8 << 20)])
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("demo.Echo", handlers),))
if len(sys.argv) > 3:  # CERT KEY: over TLS (BoringSSL inside grpcio)
    with open(sys.argv[2], "rb") as c, open(sys.argv[3], "rb") as k:
        credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
    server.add_secure_port(f"127.0.0.1:{int(sys.argv[1])}", credentials)
else:
    server.add_insecure_port(f"127.0.0.1:{int(sys.argv[1])}")
server.start()
server.wait_for_termination()
