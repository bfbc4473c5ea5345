"""Fixtures for the end-to-end tests: real probes, real servers and clients,
a real OTLP receiver decoding with the official opentelemetry-proto package.

Every test selects only the processes or ports it started, so parallel
tests and the machine's other traffic never leak into it."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = os.environ.get("L7TRACE_BIN") or str(ROOT / ".build" / "release" / "l7trace")
SERVERS = HERE / "servers"

sys.path.insert(0, str(ROOT / "scripts"))
from loopback import free_port, read_http1_responses, wait_for_port  # noqa: E402  (re-exported to the tests)


SERVER, CLIENT = 2, 3


def attrs(span):
    return span["attributes"]


def service(span):
    return span["resource"]["service.name"]


def of_kind(spans, kind):
    return [s for s in spans if s["kind"] == kind]


def traced(tracers, receiver, *selection, env=None):
    """l7trace with a selection, exporting to the test receiver."""
    return tracers([*selection, "--exporter", "otlp", "--otlp-endpoint", receiver.endpoint], env)


def self_signed_cert(directory):
    """A throw-away certificate for localhost: (cert path, key path)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
             "-keyout", str(key), "-out", str(cert)])
    return str(cert), str(key)


def wait_until(predicate, timeout=15.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class Processes:
    """Starts helper processes and stops each by pid at the end of a test."""

    def __init__(self):
        self.started = []
        self.cleanups = []

    def start(self, args, env=None, **kwargs):
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        proc = subprocess.Popen(args, env=full_env, stdout=kwargs.pop("stdout", subprocess.DEVNULL),
                                stderr=kwargs.pop("stderr", subprocess.DEVNULL), **kwargs)
        self.started.append(proc)
        return proc

    def http_server(self, port, env=None):
        proc = self.start([sys.executable, str(SERVERS / "http_server.py"), str(port)], env=env)
        wait_for_port(port)
        return proc

    def nghttpd(self, directory):
        """nghttpd over h2c serving `hello.txt` from `directory`/docroot: its port."""
        port = free_port()
        docroot = directory / "docroot"
        docroot.mkdir(exist_ok=True)
        (docroot / "hello.txt").write_text("hello over h2c\n")
        self.start(["nghttpd", "--no-tls", "-d", str(docroot), str(port)])
        wait_for_port(port)
        return port

    def grpc_server(self):
        """servers/grpc_server.py (grpcio over h2c), named grpc-server: its port."""
        port = free_port()
        self.start([sys.executable, str(SERVERS / "grpc_server.py"), str(port)], env={"OTEL_SERVICE_NAME": "grpc-server"})
        wait_for_port(port)
        return port

    def nginx(self, directory, listen, port, server_lines=(), worker_connections=64, keepalive_requests=100,
              files=None, gzip=False, http_lines=()):
        """nginx with one worker answering `return 200 "hello"`, all its
        files in `directory`; `listen` is the directive's argument. The
        files of the directory `files` (readable by nginx's worker user) are
        served under /files/; `gzip` compresses text as nginx's default
        configuration does (chunked responses). `server_lines` go in the
        server block, `http_lines` (upstreams) in the http block."""
        conf = directory / "nginx.conf"
        extra = "".join(f"        {line}\n" for line in server_lines)
        http_extra = "".join(f"    {line}\n" for line in http_lines)
        if files:
            extra += f"        location /files/ {{ alias {files}/; }}\n"
        if gzip:
            extra += "        gzip on;\n        gzip_types text/plain;\n        gzip_min_length 1;\n"
        conf.write_text(f"""
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {directory};
    proxy_temp_path {directory};
    fastcgi_temp_path {directory};
    uwsgi_temp_path {directory};
    scgi_temp_path {directory};
    keepalive_requests {keepalive_requests};
{http_extra}    server {{
        listen {listen};
{extra}        location / {{ return 200 "hello\\n"; }}
    }}
}}
""")
        proc = self.start(["nginx", "-c", str(conf), "-p", str(directory)])
        wait_for_port(port)
        return proc

    def busybox_httpd(self, port, docroot):
        """busybox's httpd in the foreground: it forks a child per
        connection, which serves it on fds 0 and 1 and exits (no exec)."""
        proc = self.start(["busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(docroot)])
        wait_for_port(port)
        return proc

    def apache(self, directory, port, cert=None):
        """Apache with the prefork MPM in the foreground: the master forks
        its children (no exec) before any connection; each child accepts
        and serves connections itself. Files under `directory`; serves
        /f.txt ("hello\n"); HTTPS through mod_ssl when `cert` is given."""
        # The children run as www-data, which cannot enter pytest's (0700)
        # directories: the document root is a directory of its own in /tmp.
        docroot = Path(tempfile.mkdtemp(prefix="l7trace-htdocs-"))
        self.cleanups.append(lambda: shutil.rmtree(docroot, ignore_errors=True))
        os.chmod(docroot, 0o755)
        (docroot / "f.txt").write_text("hello\n")
        os.chmod(docroot / "f.txt", 0o644)
        tls = "" if cert is None else f"""
LoadModule socache_shmcb_module modules/mod_socache_shmcb.so
LoadModule ssl_module modules/mod_ssl.so
SSLSessionCache shmcb:{directory}/ssl_scache(512000)
SSLEngine on
SSLCertificateFile {cert[0]}
SSLCertificateKeyFile {cert[1]}
"""
        conf = directory / "apache2.conf"
        conf.write_text(f"""
ServerRoot /usr/lib/apache2
LoadModule mpm_prefork_module modules/mod_mpm_prefork.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule mime_module modules/mod_mime.so
{tls}
ServerName localhost
Listen 127.0.0.1:{port}
User www-data
Group www-data
PidFile {directory}/apache2.pid
DefaultRuntimeDir {directory}
ErrorLog {directory}/error.log
LogLevel warn
TypesConfig /etc/mime.types
DocumentRoot {docroot}
<Directory {docroot}>
    Require all granted
</Directory>
KeepAlive On
StartServers 3
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 8
""")
        # Its own process group: prefork's master signals its whole group when it stops.
        proc = self.start(["apache2", "-f", str(conf), "-DFOREGROUND"], start_new_session=True)
        wait_for_port(port)
        return proc

    def stop_all(self):
        for proc in reversed(self.started):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for cleanup in self.cleanups:
            cleanup()


def status_kb(pid, field):
    """A `VmRSS:`/`VmHWM:` figure of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} missing for pid {pid}")


def parse_metrics(text):
    """Prometheus text exposition as {'name{labels}': value}."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def json_lines(path):
    """The JSON objects of a file another process appends to, one per line. A
    last line without its newline is still being written: it is left for the
    next call, not parsed half-written."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[:text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


class Receiver:
    """The test OTLP/HTTP receiver, in its own process (so that it can be a
    traced process itself), writing one JSON line per span."""

    def __init__(self, processes, tmp_path):
        self.port = free_port()
        self.out = tmp_path / f"spans-{self.port}.jsonl"
        self.raw_path = tmp_path / f"exports-{self.port}.bin"
        self.proc = processes.start([sys.executable, str(HERE / "otlp_receiver.py"),
                                     "--port", str(self.port), "--out", str(self.out), "--raw", str(self.raw_path)])
        wait_for_port(self.port)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def spans(self):
        return json_lines(self.out)

    def raw(self):
        """Every export body received so far, as the exporter sent it (decompressed)."""
        return self.raw_path.read_bytes() if self.raw_path.exists() else b""


class Tracer:
    """l7trace itself, started with a selection, stopped by SIGTERM."""

    def __init__(self, args, env=None):
        full_env = dict(os.environ)
        full_env.setdefault("OTEL_BSP_SCHEDULE_DELAY", "200")
        if env:
            full_env.update(env)
        self.args = [BIN] + args
        self.proc = subprocess.Popen(self.args, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr_lines = []
        self.stdout_lines = []
        self._ready = threading.Event()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines, False), daemon=True).start()
        if not self._ready.wait(60):
            self.proc.kill()
            raise AssertionError("l7trace never said it was ready:\n" + "".join(self.stderr_lines))

    def _pump(self, stream, lines, watch_ready):
        for line in stream:
            lines.append(line)
            if watch_ready and line.startswith("l7trace: ready"):
                self._ready.set()
        if watch_ready:
            self._ready.set()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("l7trace did not stop on SIGTERM:\n" + "".join(self.stderr_lines))
        time.sleep(0.1)
        assert code == 0, f"l7trace exited {code}:\n" + "".join(self.stderr_lines)
        return code


@pytest.fixture(scope="session", autouse=True)
def _needs_root_and_binary():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests load BPF programs and need root")
    if not Path(BIN).exists():
        pytest.fail(f"{BIN} is missing: run `make build` first")


@pytest.fixture
def processes():
    p = Processes()
    yield p
    p.stop_all()


@pytest.fixture
def receiver(processes, tmp_path):
    return Receiver(processes, tmp_path)


@pytest.fixture
def cert(tmp_path):
    return self_signed_cert(tmp_path)


@pytest.fixture
def tracers():
    started = []

    def start(args, env=None):
        t = Tracer(args, env)
        started.append(t)
        return t

    yield start
    for t in started:
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()


def run(args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, timeout=60, **kwargs)


def grpc_client(port, *args):
    """servers/grpc_client.py, named grpc-client: the words of each line it printed."""
    out = run([sys.executable, str(SERVERS / "grpc_client.py"), str(port), *args],
              env={"OTEL_SERVICE_NAME": "grpc-client", "PATH": "/usr/bin:/bin"}).stdout.decode()
    return [line.split() for line in out.splitlines() if line.strip()]


def curl(*args):
    return run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}", *args]).stdout.decode()
