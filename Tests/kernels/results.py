"""Reads what the scenario printed (a VM's console or the host's run) and
checks the spans a user would see: per protocol, as many SERVER and CLIENT
spans as curl completed requests, with the right name, status, protocol
version and scheme."""
import json
import re
import signal

SERVER, CLIENT = 2, 3
# path segment -> (label, network.protocol.version, url.scheme)
PROTOCOLS = {"h1": ("http/1.1", "1.1", "http"), "h2c": ("h2c", "2", "http"), "tls": ("https", "1.1", "https"),
             "fork": ("forking", "1.1", "http")}
CURL_SECTION = {"h1": "curl-h1", "h2c": "curl-h2c", "tls": "curl-https", "fork": "curl-fork"}
# The service each protocol's server spans carry (busybox httpd's children are forked, never exec'd).
SERVER_SERVICE = {"h1": "nginx", "h2c": "nginx", "tls": "nginx", "fork": "busybox"}


def _value(v):
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    return int(v["intValue"]) if "intValue" in v else v


def spans_of(lines):
    """The spans of OTLP JSON lines (the file exporter's output) as dicts."""
    spans = []
    for line in lines:
        if not line.strip():
            continue
        for rs in json.loads(line).get("resourceSpans", []):
            resource = {a["key"]: _value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])}
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    spans.append({"name": s.get("name"), "kind": s.get("kind"), "resource": resource,
                                  "attributes": {a["key"]: _value(a["value"]) for a in s.get("attributes", [])}})
    return spans


class Result:
    def __init__(self, label, output, requests, timed_out=False, seconds=None):
        self.label, self.output, self.requests, self.timed_out, self.seconds = label, output, requests, timed_out, seconds
        self.sections, self.facts = {}, {}
        current = None
        for line in output.splitlines():
            m = re.match(r"@@l7k (begin|end) (\S+)$", line)
            if m:
                current = m.group(2) if m.group(1) == "begin" else None
                if current:
                    self.sections[current] = []
            elif current:
                self.sections[current].append(line)
            elif line.startswith("@@l7k "):
                key, _, value = line[6:].partition(" ")
                self.facts[key] = value
        self.stderr = self.sections.get("stderr", [])
        self.ready = "ready" in self.facts
        try:
            self.spans = spans_of(self.sections.get("spans", []))
            self.span_error = None
        except (ValueError, KeyError) as e:   # a line garbled on the console
            self.spans, self.span_error = [], f"unreadable spans: {e}"
        self.counts, self.failures = {}, []
        self._check()

    @property
    def kernel(self):
        return self.facts.get("kernel", "?")

    def start_notes(self):
        """The tracer's own lines before it was ready (a fallback it chose),
        leaving out the TLS attach lines every kernel prints."""
        notes = []
        for line in self.stderr:
            if line.startswith("l7trace: ready"):
                break
            if line.startswith("l7trace:") and "attached TLS probes" not in line:
                notes.append(line)
        return notes

    def exit_status(self):
        code = self.facts.get("tracer-exit", "?")
        if code.isdigit() and int(code) > 128:   # the shell's way of saying "killed by a signal"
            number = int(code) - 128
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {number}"
            return f"{code}, killed by {name}"
        return code

    def error(self):
        """Why the tracer did not start: its own lines, else its last stderr lines and exit status."""
        own = [l for l in self.stderr if l.startswith("l7trace:")]
        if own:
            return "\n".join(own)
        status = f"(exit status {self.exit_status()})" if "tracer-exit" in self.facts else "(it never exited)"
        return "\n".join(self.stderr[-20:] + [status])

    def _check(self):
        fail = self.failures.append
        crash = re.search(r"^\[[ \d.]+\] (Kernel panic.*|Oops.*|.*PANIC.*)$", self.output, re.M)
        self.crashed = crash.group(1) if crash else None
        if self.crashed:
            fail(f"the kernel crashed: {self.crashed}")
        if "done" not in self.facts:
            fail("the scenario did not finish" + (" (timed out)" if self.timed_out else "")
                 + (f": {self.facts['result']}" if "result" in self.facts else ""))
        if not self.ready:
            fail("l7trace did not start: " + (self.facts.get("result", "") + "\n" if "result" in self.facts else "")
                 + self.error())
            return
        if self.facts.get("tracer-exit") != "0":
            fail(f"l7trace exited {self.exit_status()} after SIGTERM")
        if self.span_error:
            fail(self.span_error)
        seen = set()
        for seg, (label, version, scheme) in PROTOCOLS.items():
            codes = self.sections.get(CURL_SECTION[seg], [])
            done = sum(1 for c in codes if c.strip() == "200")
            if done != self.requests:
                fail(f"{label}: curl completed {done} of {self.requests} requests (statuses {codes})")
            ours = [s for s in self.spans if str(s["attributes"].get("url.path", "")).startswith(f"/{seg}/")]
            seen.update(id(s) for s in ours)
            servers = [s for s in ours if s["kind"] == SERVER]
            clients = [s for s in ours if s["kind"] == CLIENT]
            self.counts[label] = (len(servers), len(clients))
            for kind, group in (("SERVER", servers), ("CLIENT", clients)):
                if len(group) != done:
                    fail(f"{label}: {len(group)} {kind} spans for {done} requests")
                for s in group:
                    a = s["attributes"]
                    got = (s["name"], a.get("http.response.status_code"), a.get("network.protocol.version"),
                           a.get("url.scheme"))
                    want = (f"GET /{seg}/*", 200, version, scheme)
                    if got != want:
                        fail(f"{label} {kind} span (name, status, version, scheme) is {got}, not {want}")
                    if kind == "SERVER" and s["resource"].get("service.name") != SERVER_SERVICE[seg]:
                        fail(f"{label} SERVER span of service {s['resource'].get('service.name')!r},"
                             f" not {SERVER_SERVICE[seg]!r}")
        others = [s for s in self.spans if id(s) not in seen]
        if others:
            fail(f"{len(others)} spans of no request made: " + ", ".join(f"{s['kind']} {s['name']}" for s in others[:5]))

    @property
    def passed(self):
        return not self.failures

    def summary(self):
        """One line: kernel, probes, spans per protocol, start notes, verdict."""
        head = f"{self.label:5} {self.kernel:30}"
        if self.crashed:
            return f"{head} FAIL  the kernel crashed: {self.crashed}"
        if not self.ready:
            lines = self.error().splitlines()
            first = lines[0] if lines[0].startswith("l7trace:") else " ".join(lines[-2:])   # last words and exit status
            return f"{head} probes no   FAIL  {first}"
        spans = ", ".join(f"{label} {s} server {c} client" for label, (s, c) in self.counts.items())
        notes = "; ".join(self.start_notes()) or "no fallback"
        verdict = "PASS" if self.passed else "FAIL  " + self.failures[0]
        took = f" ready after {self.facts['ready']}s" + (f" of {self.seconds:.0f}s" if self.seconds is not None else "")
        return f"{head} probes yes  {spans}  ({notes}){took}  {verdict}"

    def report(self, verbose=False):
        """The summary, then what a failure needs: the tracer's stderr and each failed check."""
        out = [self.summary()]
        if verbose or not self.passed:
            out.append("--- l7trace stderr ---")
            out += self.stderr or ["(empty)"]
            out += [f"--- {f}" for f in self.failures]
        if (self.timed_out or self.crashed or "done" not in self.facts) and self.output:
            out.append("--- console (last 40 lines) ---")
            out += self.output.splitlines()[-40:]
        return "\n".join(out)
