"""Boots a kernel under qemu with software emulation (no KVM on these
machines) and returns what its serial console printed."""
import subprocess

# quiet/loglevel keep kernel messages out of the scenario's output;
# random.trust_cpu with RDRAND lets TLS start without waiting for entropy on
# 5.10; panic=-1 with -no-reboot ends qemu if the kernel panics.
# clearcpuid=141 hides CX16 from the kernel: qemu 7.2's emulation of
# `cmpxchg16b %gs:...`, which SLUB uses when the CPU has CX16, corrupts the
# slab lists (every crash we saw faulted just after it, with garbage in
# EFLAGS): about every other 6.12 boot died of a double fault or a list
# corruption, none of 6 with this. User space (Swift's 128-bit atomics,
# which need the instruction) still has it.
APPEND = "console=ttyS0 quiet loglevel=1 panic=-1 random.trust_cpu=on clearcpuid=141 rdinit=/init"
CPU = "qemu64,+rdrand"


def boot(vmlinuz, initrd, timeout=240, memory="1G"):
    """(console text, timed out?)"""
    args = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", CPU, "-smp", "1", "-m", memory,
            "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", APPEND]
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return (r.stdout + r.stderr).decode(errors="replace").replace("\r", ""), False
    except subprocess.TimeoutExpired as e:
        return ((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace").replace("\r", ""), True
