"""Boots a kernel under qemu with software emulation (no KVM on these
machines) and returns what its serial console printed."""
import subprocess

# quiet/loglevel keep kernel messages out of the scenario's output;
# random.trust_cpu with -cpu max (RDRAND) lets TLS start without waiting for
# entropy on 5.10; panic=-1 with -no-reboot ends qemu if the kernel panics.
CPU = __import__("os").environ.get("L7K_CPU", "qemu64,+rdrand")
APPEND = "console=ttyS0 quiet loglevel=1 panic=-1 random.trust_cpu=on rdinit=/init"


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
