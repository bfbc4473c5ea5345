"""The kernel matrix's fixtures: the tracer under test (L7TRACE_BIN, default
.build/release/l7trace), one initramfs for every VM, and the one line per
kernel printed at the end of the run, whatever pytest's verbosity."""
import os
from pathlib import Path

import pytest

import initramfs
import matrix

SUMMARIES = []


@pytest.fixture(scope="session")
def binary():
    if os.geteuid() != 0:
        pytest.skip("the kernel matrix loads BPF programs on the host row and needs root")
    path = Path(os.environ.get("L7TRACE_BIN") or matrix.DEFAULT_BIN)
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make build` first, or set L7TRACE_BIN")
    return path


@pytest.fixture(scope="session")
def initrd(binary, tmp_path_factory):
    return initramfs.build(str(binary), tmp_path_factory.mktemp("initramfs") / "initrd.gz")


@pytest.fixture
def summaries():
    return SUMMARIES


def pytest_terminal_summary(terminalreporter):
    if SUMMARIES:
        terminalreporter.write_sep("=", "kernel matrix")
        for line in SUMMARIES:
            terminalreporter.write_line(line)
