#!/usr/bin/env python3
"""Boots one kernel of the matrix with a given l7trace binary and prints the
tracer's stderr and the spans summary.

  python3 Tests/kernels/run_kernel.py --kernel 6.1 --bin .build/release/l7trace --verbose

--kernel: 6.1, 6.12, 5.10 (Debian's cloud kernels, fetched and cached in
/var/cache/l7trace-kernels) or host (this machine's kernel, no VM).
--verbose sets L7TRACE_VERIFIER_LOG=1 (libbpf's and the verifier's log).
Exit status 0 when every span is as expected."""
import argparse
import sys
import time

import kernels
import matrix


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kernel", required=True, choices=matrix.ROWS)
    p.add_argument("--bin", default=str(matrix.DEFAULT_BIN), help="the l7trace binary (default: %(default)s)")
    p.add_argument("--verbose", action="store_true", help="L7TRACE_VERIFIER_LOG=1 and the full stderr even on success")
    p.add_argument("--console", action="store_true", help="print the whole console/scenario output as well")
    args = p.parse_args()
    start = time.time()
    try:
        result = matrix.run(args.kernel, args.bin, args.verbose, log=lambda m: print(m, file=sys.stderr))
    except (kernels.KernelUnavailable, FileNotFoundError) as e:
        print(f"run_kernel: {e}", file=sys.stderr)
        return 2
    if args.console:
        print(result.output)
    print(result.report(verbose=True))   # the summary, then the tracer's whole stderr
    print(f"({time.time() - start:.0f} s)")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
