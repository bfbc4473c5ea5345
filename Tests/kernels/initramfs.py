"""The initramfs each VM boots: busybox, the tracer under test, nginx and
curl, each with the libraries `ldd` lists (and the loader), the scenario and
a small /init. Made at test time from this host's files, so what runs in the
VM is exactly what runs on the host."""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Fixed inside the VM: nothing else listens there.
VM_PORTS = {"L7K_PORT_H1": "8080", "L7K_PORT_H2C": "8081", "L7K_PORT_TLS": "8443", "L7K_PORT_FORK": "8082"}
VM_BIN = "/usr/local/bin/l7trace"

INIT = """#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
ip link set lo up
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin HOME=/root
. /l7k.env
mkdir -p "$L7K_DIR"
sh /scenario.sh
poweroff -f
"""


def self_signed_cert(directory):
    """A throw-away certificate for 127.0.0.1: (cert path, key path)."""
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    return str(cert), str(key)


def libraries(binary):
    """The files the loader maps for `binary`: ldd's list and the loader itself."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if "not a dynamic executable" in r.stdout + r.stderr:   # static, or a script
        return []
    if r.returncode != 0:
        raise RuntimeError(f"ldd {binary}: {r.stderr.strip()}")
    out = r.stdout
    found = []
    for line in out.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            found.append(m.group(1))
        elif "not found" in line:
            raise RuntimeError(f"{binary}: {line.strip()}")
    return found


def _place(root, path, as_path=None):
    """Copies `path` (following links) into `root` at `as_path` (default: the
    same path with its directory's links resolved, as the usr-merged layout
    in the image puts it)."""
    src = Path(path)
    dest_path = Path(as_path) if as_path else Path(os.path.realpath(src.parent)) / src.name
    dest = root / dest_path.relative_to("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        shutil.copy2(os.path.realpath(src), dest)


def build(binary, out, verbose=False, requests=3):
    """Writes the initramfs for tracer `binary` to `out` (gzip'd newc cpio)."""
    with tempfile.TemporaryDirectory(prefix="l7k-initramfs-") as tmp:
        root = Path(tmp) / "root"
        for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin", "proc", "sys", "dev", "tmp",
                  "etc", "root", "run"):
            (root / d).mkdir(parents=True, exist_ok=True)
        for link in ("bin", "sbin", "lib", "lib64"):   # Debian 12's merged /usr
            os.symlink(f"usr/{link}", root / link)
        programs = {shutil.which("busybox") or "/bin/busybox": "/usr/bin/busybox", binary: VM_BIN,
                    shutil.which("nginx"): "/usr/sbin/nginx", shutil.which("curl"): "/usr/bin/curl"}
        for program, inside in programs.items():
            _place(root, program, inside)
            if inside != "/usr/bin/busybox":   # busybox-static has no libraries
                for lib in libraries(program):
                    _place(root, lib)
        os.symlink("busybox", root / "usr/bin/sh")
        cert, key = self_signed_cert(tmp)
        shutil.copy(cert, root / "etc/l7k-cert.pem")
        shutil.copy(key, root / "etc/l7k-key.pem")
        # nginx's worker takes nobody's uid; curl looks up root's home.
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n")
        env = dict(VM_PORTS, L7K_BIN=VM_BIN, L7K_DIR="/tmp/l7k", L7K_CERT="/etc/l7k-cert.pem",
                   L7K_KEY="/etc/l7k-key.pem", L7K_REQUESTS=str(requests), L7K_VERBOSE="1" if verbose else "0")
        (root / "l7k.env").write_text("".join(f"export {k}={v}\n" for k, v in env.items()))
        shutil.copy(HERE / "scenario.sh", root / "scenario.sh")
        (root / "init").write_text(INIT)
        (root / "init").chmod(0o755)
        subprocess.run(["mknod", "-m", "600", str(root / "dev/console"), "c", "5", "1"], check=True)
        subprocess.run(["mknod", "-m", "666", str(root / "dev/null"), "c", "1", "3"], check=True)
        # gzip -1: the image is mostly libraries; stronger levels cost seconds for little.
        subprocess.run(f"find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > '{out}'",
                       shell=True, cwd=root, check=True)
    return out
