"""The fallbacks for kernels older than 5.15 (bpf/compat.h), run on this
kernel: L7TRACE_KERNEL_FALLBACKS=all makes the tracer load them all, so the
same end-to-end checks cover the code that Debian 11's 5.10 runs, beyond the
kernel matrix's short scenario (make test-kernels)."""
import pytest

from conftest import SERVER, free_port, of_kind, traced, wait_until
# Each imported test runs again here, with every fallback forced.
from test_http1 import (test_curl_to_python_server_gives_server_and_client_spans,  # noqa: F401
                        test_keep_alive_and_pipelined_requests_give_one_span_each,
                        test_pid_selection_covers_the_children_the_process_forked_before_the_tracer,
                        test_connection_opened_before_the_tracer_gets_its_roles_inferred)
from test_http2 import test_large_reply_shares_the_connection_with_concurrent_calls  # noqa: F401
from test_https import test_large_https_upload_and_download  # noqa: F401


@pytest.fixture(autouse=True)
def every_fallback(monkeypatch):
    monkeypatch.setenv("L7TRACE_KERNEL_FALLBACKS", "all")


def test_the_fallbacks_in_use_are_said_in_one_line(processes, receiver, tracers):
    port = free_port()
    processes.http_server(port)
    tracer = traced(tracers, receiver, "--port", str(port))
    tracer.stop()
    lines = [l for l in tracer.stderr_lines if "fallbacks in use" in l]
    assert len(lines) == 1, tracer.stderr_lines
    for name in ("no task-storage (Linux 5.11)", "no task-btf (Linux 5.11)", "no task-pt-regs (Linux 5.15)"):
        assert name in lines[0]
