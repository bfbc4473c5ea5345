"""One row of the kernel matrix: the scenario on a Debian kernel in a VM, or
natively on this host's kernel ("host"), as a results.Result."""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import initramfs
import kernels
import vm
from results import Result

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_BIN = ROOT / ".build" / "release" / "l7trace"
ROWS = ["host"] + list(kernels.KERNELS)
REQUESTS = 3

sys.path.insert(0, str(ROOT / "scripts"))
from loopback import free_port  # noqa: E402


def run_host(binary, verbose=False, requests=REQUESTS):
    """The scenario on this host's kernel, on free loopback ports."""
    with tempfile.TemporaryDirectory(prefix="l7k-host-") as tmp:
        cert, key = initramfs.self_signed_cert(tmp)
        ports = set()
        while len(ports) < 4:
            ports.add(free_port())
        h1, h2c, tls, fork = sorted(ports)
        env = dict(os.environ, L7K_BIN=str(binary), L7K_DIR=tmp, L7K_CERT=cert, L7K_KEY=key,
                   L7K_PORT_H1=str(h1), L7K_PORT_H2C=str(h2c), L7K_PORT_TLS=str(tls), L7K_PORT_FORK=str(fork),
                   L7K_REQUESTS=str(requests), L7K_VERBOSE="1" if verbose else "0")
        start = time.time()
        try:
            r = subprocess.run(["sh", str(HERE / "scenario.sh")], env=env, capture_output=True, text=True, timeout=180)
            return Result("host", r.stdout + r.stderr, requests, seconds=time.time() - start)
        except subprocess.TimeoutExpired as e:
            return Result("host", (e.stdout or b"").decode(errors="replace"), requests, timed_out=True)


def run(row, binary=DEFAULT_BIN, verbose=False, initrd=None, requests=REQUESTS, log=print):
    """Result of row `row` ("host" or a key of kernels.KERNELS) for tracer
    `binary`; `initrd` reuses an image built by initramfs.build (same
    verbosity and request count)."""
    binary = Path(binary).resolve()
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `make build` or pass another binary")
    if row == "host":
        return run_host(binary, verbose, requests)
    vmlinuz, package = kernels.fetch(row, log)
    with tempfile.TemporaryDirectory(prefix="l7k-vm-") as tmp:
        if initrd is None:
            initrd = initramfs.build(str(binary), Path(tmp) / "initrd.gz", verbose, requests)
        start = time.time()
        output, timed_out = vm.boot(vmlinuz, initrd)
        return Result(row, output, requests, timed_out, time.time() - start)
