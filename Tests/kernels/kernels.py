"""Debian kernel packages for the kernel matrix: fetched with `apt-get
download` through an apt state of our own (sources list, lists, cache and
status file under CACHE), so the host's apt configuration and package state
are never touched. apt checks every .deb against the Packages index, and the
index against the signed InRelease (Debian's archive keyring), as it does for
any install. The mirror is the one this machine is already configured with."""
import fcntl
import glob
import os
import re
import subprocess
import time
from pathlib import Path

CACHE = Path(os.environ.get("L7TRACE_KERNEL_CACHE", "/var/cache/l7trace-kernels"))
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# The lists are refreshed at most this often: a rerun needs no network.
LISTS_MAX_AGE = 24 * 3600

# name -> (suites, metapackage whose dependency is the kernel image). A
# release's security suite is where its current kernel is; it is used when
# the host's apt sources name a security mirror.
KERNELS = {
    "6.1": (["bookworm", "bookworm-security"], "linux-image-cloud-amd64"),   # Debian 12
    "6.12": (["bookworm-backports"], "linux-image-cloud-amd64"),
    "5.10": (["bullseye", "bullseye-security"], "linux-image-cloud-amd64"),  # Debian 11
}


# What the scenario needs built into the kernel: the VMs load no modules.
REQUIRED_CONFIG = ["BPF_SYSCALL", "BPF_EVENTS", "DEBUG_INFO_BTF", "FTRACE_SYSCALLS", "UPROBES", "UPROBE_EVENTS",
                   "DEBUG_FS", "DEVTMPFS", "TMPFS", "BLK_DEV_INITRD", "RD_GZIP", "SERIAL_8250_CONSOLE"]


class KernelUnavailable(Exception):
    """A kernel that cannot be fetched from here; the message says why."""


def configured_mirrors():
    """(archive URI, security URI or None) from the host's apt sources."""
    uris = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", Path(path).read_text()):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and "no" not in fields.get("enabled", ["yes"]):
                suites = fields.get("suites", [])
                uris += [(u, suites) for u in fields.get("uris", [])]
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if os.path.exists(path):
            for line in Path(path).read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    uris.append((words[1], [words[2]]))
    security = lambda uri, suites: any(s.endswith("-security") for s in suites) or "security" in uri
    archive = next((u.rstrip("/") for u, s in uris if not security(u, s)), None)
    if archive is None:
        raise KernelUnavailable("no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources")
    return archive, next((u.rstrip("/") for u, s in uris if security(u, s)), None)


class AptState:
    """One kernel's apt state under CACHE/apt/<name>."""

    def __init__(self, name, suites):
        archive, security = configured_mirrors()
        self.name, self.mirror = name, archive
        self.root = CACHE / "apt" / name
        for d in ("lists/partial", "cache/archives/partial", "etc/preferences.d", "etc/apt.conf.d"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "status").touch()
        self.sources = self.root / "etc" / "sources.list"
        lines = "".join(f"deb [signed-by={KEYRING}] {security if s.endswith('-security') else archive} {s} main\n"
                        for s in suites if security or not s.endswith("-security"))
        self.suite = " and ".join(s for s in suites if security or not s.endswith("-security"))
        if not self.sources.exists() or self.sources.read_text() != lines:
            self.sources.write_text(lines)
            for old in (self.root / "lists").glob("*_*"):   # lists of another mirror
                old.unlink()

    def apt(self, tool, *args, **kwargs):
        r = self.root
        options = [f"-oDir::Etc::SourceList={self.sources}", "-oDir::Etc::SourceParts=/nonexistent",
                   f"-oDir::Etc::Preferences={r}/etc/preferences", f"-oDir::Etc::PreferencesParts={r}/etc/preferences.d",
                   f"-oDir::State::Lists={r}/lists", f"-oDir::Cache={r}/cache", f"-oDir::State::Status={r}/status",
                   "-oAPT::Architecture=amd64", "-oAPT::Architectures::=amd64", "-oDebug::NoLocking=1"]
        return subprocess.run([tool, *options, *args], capture_output=True, text=True, **kwargs)

    def lists(self):
        return list((self.root / "lists").glob("*_Packages*"))

    def update(self, log):
        fresh = self.lists() and time.time() - min(p.stat().st_mtime for p in self.lists()) < LISTS_MAX_AGE
        if fresh:
            return
        log(f"kernels: apt-get update for {self.suite} from {self.mirror}")
        r = self.apt("apt-get", "-q", "update", timeout=600)
        failed = r.returncode != 0 or re.search(r"^(E:|W: Failed|Err:)", r.stdout + r.stderr, re.M)
        if failed or not self.lists():
            if self.lists():   # offline, or one suite gone: the lists we have may still name a kernel
                errors = "; ".join(l.strip() for l in (r.stdout + r.stderr).splitlines() if l.startswith(("E:", "Err:")))
                log(f"kernels: apt-get update for {self.suite} failed ({errors}); using the lists it has")
                return
            raise KernelUnavailable(f"{self.suite} is not available from {self.mirror} "
                                    f"(apt-get update failed):\n{(r.stdout + r.stderr).strip()}")
        for p in self.lists():
            p.touch()

    def depends_of(self, package):
        r = self.apt("apt-cache", "show", "--no-all-versions", package)
        if r.returncode != 0 or not r.stdout.strip():
            raise KernelUnavailable(f"{package} is not in {self.suite} on {self.mirror}: {r.stderr.strip()}")
        m = re.search(r"^Depends: (.*)$", r.stdout, re.M)
        return [d.split()[0] for d in m.group(1).split(",")] if m else []

    def download(self, package, into):
        r = self.apt("apt-get", "-q", "download", package, cwd=into, timeout=900)
        if r.returncode != 0:
            raise KernelUnavailable(f"apt-get download {package} ({self.suite}) failed:\n{(r.stdout + r.stderr).strip()}")


def fetch(name, log=print):
    """(vmlinuz path, kernel package name) of kernel `name` (a key of KERNELS),
    downloading and extracting it into CACHE when it is not there yet."""
    if name not in KERNELS:
        raise KernelUnavailable(f"unknown kernel {name!r}; known: {', '.join(KERNELS)}")
    # The cache is shared by everyone on the machine: one fetch of a kernel at a time.
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch(name, log)


def _fetch(name, log):
    suites, meta = KERNELS[name]
    state = AptState(name, suites)
    suite = state.suite
    state.update(log)
    image = next((d for d in state.depends_of(meta) if d.startswith("linux-image-")), None)
    if image is None:
        raise KernelUnavailable(f"{meta} in {suite} names no linux-image package")
    target = CACHE / "kernels" / image
    vmlinuz = next(target.glob("boot/vmlinuz-*"), None) if target.exists() else None
    if vmlinuz:
        return _checked(vmlinuz, image)
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = next(debs.glob(f"{image}_*.deb"), None)
    if deb is None:
        log(f"kernels: downloading {image} ({suite})")
        state.download(image, debs)
        deb = next(debs.glob(f"{image}_*.deb"))
    partial = target.with_name(target.name + ".partial")
    subprocess.run(["rm", "-rf", str(partial)], check=True)
    partial.mkdir(parents=True)
    # Only /boot is kept: the modules are not needed (loopback, BPF and
    # tracing are built into Debian's cloud kernels).
    subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], check=True)
    subprocess.run(["rm", "-rf", str(partial / "lib"), str(partial / "usr")], check=True)
    partial.rename(target)
    return _checked(next(target.glob("boot/vmlinuz-*")), image)


def _checked(vmlinuz, image):
    config = next(vmlinuz.parent.glob("config-*"), None)
    text = config.read_text() if config else ""
    missing = [o for o in REQUIRED_CONFIG if f"\nCONFIG_{o}=y\n" not in text]
    if missing:
        raise KernelUnavailable(f"{image} does not have built in: " + ", ".join(f"CONFIG_{o}" for o in missing))
    return vmlinuz, image
