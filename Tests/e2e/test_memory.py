"""The tracer's memory as a user running it beside other programs sees it:
it must not follow the size of programs that start on the host, and what a
burst of connections made it grow must be given back when the burst ends."""
import shutil
import subprocess
import time

import pytest

from conftest import curl, free_port, traced, wait_until

BIG_PROGRAM_MB = 200


def status_kb(pid, field):
    """A `VmRSS:`/`VmHWM:` figure of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} missing for pid {pid}")


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
