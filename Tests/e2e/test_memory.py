"""The tracer's memory as a user running it beside other programs sees it:
it must not follow the size of programs that start on the host, and what a
burst of connections made it grow must be given back when the burst ends."""
import resource
import shutil
import subprocess
import sys
import time

import pytest

from conftest import SERVERS, curl, free_port, status_kb, traced, wait_until

BIG_PROGRAM_MB = 200


def reset_peak(pid):
    """Sets VmHWM back to the current RSS (proc(5), clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def big_program(directory):
    """/bin/sleep with a 200 MB section appended: a valid ELF that runs, whose
    file is as large as a compiler's."""
    padding = directory / "padding.bin"
    with open(padding, "wb") as f:
        f.truncate(BIG_PROGRAM_MB << 20)  # zeros on disk, read back as real file pages
    program = directory / "big-sleep"
    subprocess.run(["objcopy", "--add-section", f".padding={padding}", "--set-section-flags", ".padding=readonly",
                    shutil.which("sleep"), str(program)], check=True, timeout=120)
    padding.unlink()
    assert program.stat().st_size > BIG_PROGRAM_MB << 20
    return program


def test_a_large_program_starting_elsewhere_does_not_grow_the_tracer(processes, receiver, tracers, tmp_path):
    """Only one port is selected; a 200 MB program then starts on the host.
    The tracer looks at every new program (it may carry OpenSSL), but reads
    only its headers: its peak RSS must not grow by anything like 200 MB."""
    if not shutil.which("objcopy"):
        pytest.fail("objcopy is missing: run `make test-deps` (package binutils)")
    program = big_program(tmp_path)
    port = free_port()
    processes.http_server(port)
    tracer = traced(tracers, receiver, "--port", str(port))
    assert curl(f"http://127.0.0.1:{port}/before") == "200"
    time.sleep(1)
    reset_peak(tracer.proc.pid)  # the programs running at start were looked at too
    peak_before = status_kb(tracer.proc.pid, "VmHWM")

    subprocess.run([str(program), "1.5"], check=True, timeout=30)  # scanned at exec and rescanned while it runs
    assert curl(f"http://127.0.0.1:{port}/after") == "200"
    assert wait_until(lambda: len(receiver.spans()) >= 4)  # curl's and the server's
    peak_after = status_kb(tracer.proc.pid, "VmHWM")
    tracer.stop()

    grown_mb = (peak_after - peak_before) / 1024
    print(f"tracer peak RSS {peak_before / 1024:.1f} MB before the {BIG_PROGRAM_MB} MB program, {peak_after / 1024:.1f} MB after")
    assert grown_mb < 20, f"the tracer's peak RSS grew by {grown_mb:.0f} MB when a {BIG_PROGRAM_MB} MB program started"
    assert sorted(s["attributes"]["url.path"] for s in receiver.spans()) == ["/after", "/after", "/before", "/before"]


IDLE_CONNECTIONS = 20_000
# The hard limit of open files here is 20,000 and cannot be raised without
# CAP_SYS_RESOURCE: the connections are split over two servers and two clients.
SERVERS_FOR_IDLE = 2
PIPELINING_CLIENTS, PIPELINED_REQUESTS = 4, 50_000  # ~3.7 MB of requests in one write each


def raise_open_files():
    """As many open files as allowed, here and in the nginx started after (it inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def settled_rss_kb(pid, seconds, target_kb=None, patience=20):
    """The RSS once the tracer had `seconds` to give memory back (its tick runs
    every 200 ms), or, with `target_kb`, up to `patience` seconds more until it
    is at most that: a loaded machine delays the close events that free it."""
    time.sleep(seconds)
    rss = status_kb(pid, "VmRSS")
    deadline = time.time() + patience
    while target_kb is not None and rss > target_kb and time.time() < deadline:
        time.sleep(0.5)
        rss = status_kb(pid, "VmRSS")
    return rss


def test_memory_grown_for_a_burst_is_given_back_when_it_ends(processes, receiver, tracers, tmp_path):
    """20,000 idle connections, closed; then a pipelining burst: the tracer
    grows for each, and a few seconds after the load its RSS is back within
    ~10% of the idle figure."""
    per_server = IDLE_CONNECTIONS // SERVERS_FOR_IDLE
    assert raise_open_files() > per_server + 100, "too few open files allowed for the idle connections"
    ports = [free_port() for _ in range(SERVERS_FOR_IDLE)]
    for i, port in enumerate(ports):
        directory = tmp_path / f"nginx-{i}"
        directory.mkdir()
        processes.nginx(directory, f"127.0.0.1:{port}", port, worker_connections=per_server + 500,
                        keepalive_requests=PIPELINED_REQUESTS * 2)
    tracer = traced(tracers, receiver, *[arg for port in ports for arg in ("--port", str(port))])
    pid = tracer.proc.pid
    assert curl(f"http://127.0.0.1:{ports[0]}/warm") == "200"
    idle = settled_rss_kb(pid, 3)

    holders = [processes.start([sys.executable, str(SERVERS / "idle_connections.py"), str(port), str(per_server)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE) for port in ports]
    for holder in holders:
        assert holder.stdout.readline() == b"open\n", "the idle connections could not be opened"
    with_connections = settled_rss_kb(pid, 1)
    for holder in holders:
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
    after_connections = settled_rss_kb(pid, 5, target_kb=idle * 1.10)

    clients = [processes.start([sys.executable, str(SERVERS / "pipelined_client.py"), str(ports[i % len(ports)]),
                                str(PIPELINED_REQUESTS), "/burst"]) for i in range(PIPELINING_CLIENTS)]
    for client in clients:
        assert client.wait(timeout=120) == 0
    burst = status_kb(pid, "VmRSS")
    peak = status_kb(pid, "VmHWM")
    after = settled_rss_kb(pid, 5, target_kb=idle * 1.10)
    assert curl(f"http://127.0.0.1:{ports[0]}/still-traced") == "200"
    assert wait_until(lambda: any(s["attributes"].get("url.path") == "/still-traced" for s in receiver.spans()))
    tracer.stop()

    mb = lambda kb: f"{kb / 1024:.1f} MB"
    print(f"tracer RSS: idle {mb(idle)}, {IDLE_CONNECTIONS:,} idle connections {mb(with_connections)}, "
          f"closed {mb(after_connections)}, right after a pipelining burst {mb(burst)}, peak {mb(peak)}, "
          f"after the burst {mb(after)}")
    assert with_connections > idle, "the connections were not tracked at all"
    assert after_connections <= idle * 1.10, f"closed connections kept {mb(after_connections - idle)}"
    assert after <= idle * 1.10, f"after the load the tracer kept {mb(after - idle)} over its idle {mb(idle)}"
