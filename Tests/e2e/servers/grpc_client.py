"""gRPC client for the end-to-end tests (raw-bytes messages, one channel).

  grpc_client.py PORT all      one call of each kind
  grpc_client.py PORT large    a 2 MiB reply alongside 10 concurrent unary calls
  grpc_client.py PORT mid N    3 calls, print "ready", wait for a line on
                               stdin, then N rounds of: a call to a method
                               the server lacks (a new :path, which gRPC's
                               encoder adds to its header table, so the
                               table turns over), then a Unary call
Prints one line per call: METHOD CODE. With GRPC_TLS_CERT=CERT in the
environment, over TLS trusting that certificate."""
import os
import sys
import threading

import grpc

port, mode = int(sys.argv[1]), sys.argv[2]
options = [("grpc.max_receive_message_length", 8 << 20)]
if os.environ.get("GRPC_TLS_CERT"):  # TLS, trusting that (self-signed, CN=localhost) certificate
    with open(os.environ["GRPC_TLS_CERT"], "rb") as c:
        credentials = grpc.ssl_channel_credentials(root_certificates=c.read())
    channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials,
                                  options=options + [("grpc.ssl_target_name_override", "localhost")])
else:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
ident = lambda b: b


def stub(kind, name):
    return getattr(channel, kind)(f"/demo.Echo/{name}", request_serializer=ident, response_deserializer=ident)


def report(name, fn):
    try:
        fn()
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    print(name, code.name, flush=True)


def unary(i=0):
    report("Unary", lambda: stub("unary_unary", "Unary")(b"ping", metadata=[("x-request-id", f"r-{i:06d}-" + "q" * 40)]))


if mode == "all":
    unary()
    report("NotFound", lambda: stub("unary_unary", "NotFound")(b"x"))
    report("Internal", lambda: stub("unary_unary", "Internal")(b"x"))
    report("ServerStream", lambda: list(stub("unary_stream", "ServerStream")(b"x")))
    report("ClientStream", lambda: stub("stream_unary", "ClientStream")(iter([b"a", b"b", b"c", b"d"])))
    report("Bidi", lambda: list(stub("stream_stream", "Bidi")(iter([b"1", b"2"]))))
elif mode == "large":
    threads = [threading.Thread(target=report, args=("Big", lambda: stub("unary_unary", "Big")(b"x")))]
    threads += [threading.Thread(target=unary, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
elif mode == "mid":
    for i in range(3):
        unary(i)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(sys.argv[3])):
        probe = f"Probe{i:04d}" + "p" * 40
        report(probe, lambda: stub("unary_unary", probe)(b"x"))
        unary(100 + i)
    print("done", flush=True)
channel.close()
