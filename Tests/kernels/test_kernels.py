"""The kernel matrix of issue 12: the same HTTP/1.1, h2c and HTTPS scenario
on this host's kernel and on Debian's 6.1, 6.12 and 5.10 kernels under qemu;
each row passes when the tracer loads and every request gives exactly its
SERVER and CLIENT span (see results.py for the checks)."""
import pytest

import kernels
import matrix


@pytest.mark.parametrize("row", matrix.ROWS)
def test_kernel(row, binary, initrd, summaries):
    try:
        result = matrix.run(row, binary, initrd=None if row == "host" else initrd)
    except kernels.KernelUnavailable as e:
        summaries.append(f"{row:5} kernel not available: {str(e).splitlines()[0]}")
        pytest.fail(f"kernel {row} could not be fetched: {e}", pytrace=False)
    summaries.append(result.summary())
    if row != "host" and not result.kernel.startswith(row + "."):
        pytest.fail(f"the VM of {row} ran kernel {result.kernel}:\n{result.report()}", pytrace=False)
    if not result.passed:
        pytest.fail(result.report(), pytrace=False)
