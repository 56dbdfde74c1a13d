#!/usr/bin/env python3
"""Runs the real daemon on a simulated fleet for N minutes and says whether anything grows.

Used by `./dev soak [--minutes N]` (docs/soak.md). In a temporary directory it
starts `agentwatch run` with its own config, rules, state and runtime dirs, and
keeps a small fleet busy at a steady rate for the whole run:

  - result files landing in a watched results dir; rules move each valid one to
    done/ and run a command, quarantine the invalid ones; the harness prunes
    done/ and quarantine/ so disk use stays flat;
  - two workers: `crashy` exits 1 every few seconds and is restarted, `steady`
    writes a line every 200 ms (a timer rule rotates its output file);
  - a tailed log ([[log]]), appended to and rotated by the harness;
  - `agentwatch notify` messages.

Every few seconds it samples the daemon: RSS, open fds, threads, the live
pipeline counters (control socket `status`: in_flight, events), the intents
file (size, open intents) and the file index. At the end it drops a warm-up,
fits a least-squares line per series and prints a table; a series is growing
when its slope, and the slope of its floor, extrapolate past its tolerance per
hour. It also checks what the fleet saw (every file filed, every message and
log line delivered, the crashing worker restarted, no action failed). Last line:

    soak: 30 minutes, 360 samples, 0 series growing

Exit 0 when nothing grows and every check passed; 1 otherwise; 2 when the
daemon could not be started.
"""
import argparse
import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# The CSV columns: the first seven are the ones docs/soak.md promises.
COLUMNS = ["time", "rss_kb", "fds", "intents_bytes", "file_index_bytes", "in_flight", "events",
           "rss_anon_kb", "rss_file_kb", "open_intents", "threads", "pending_files", "children",
           "lifecycle_bytes", "event_log_bytes", "cpu_pct", "actions_ok", "actions_failed"]

KIB = 1024


def per_hour_pct(pct, plus):
    """Tolerance: pct % of the series' level after the warm-up, plus `plus`, per hour."""
    return lambda level: max(level, 0) * pct / 100.0 + plus


# name -> its tolerance per hour, given its level after the warm-up. A series not listed
# (nor in CAPS) is shown but not judged: the counters grow by design.
JUDGED = {
    "rss_kb": per_hour_pct(10, 2 * KIB),        # VmRSS, kB
    "rss_anon_kb": per_hour_pct(10, 2 * KIB),   # its anonymous part (heap, stacks), kB
    "fds": per_hour_pct(0, 2),
    "threads": per_hour_pct(0, 0),
    "open_intents": per_hour_pct(0, 0),         # open records without their close
    "intents_bytes": per_hour_pct(0, 4 * KIB),
    "file_index_bytes": per_hour_pct(10, 16 * KIB),
    "in_flight": per_hour_pct(0, 0),            # plans running + file contents being read
    "pending_files": per_hour_pct(0, 0),        # result files not filed yet
    "children": per_hour_pct(0, 0),             # the daemon's child processes
}

# name -> (bound, why): files the daemon compacts or rotates at a documented size grow
# as a sawtooth below it; above it they are a failure whatever the slope says.
CAPS = {
    "intents_bytes": (int(1.5 * (1 << 20)), "rewritten past 1 MiB (docs/intents.md)"),
    "lifecycle_bytes": (9 << 20, "snapshot at 10,000 records or 8 MiB (docs/lifecycle.md)"),
    "event_log_bytes": (9 << 20, "rotated at [event_log] max_size = 8MiB"),
}


# ---------------------------------------------------------------------------
# The fleet: config and rules


def fleet_config(d):
    """agentwatch.toml: one watched results root, two workers, one tailed log."""
    crashy = "echo crashy up; sleep 5; echo crashy going down >&2; exit 1"
    steady = 'i=0; while :; do i=$((i+1)); echo "steady tick $i"; sleep 0.2; done'
    return f"""# agentwatch soak fleet (tests/soak/run_soak.py)
[daemon]
shutdown_grace = "5s"

[event_log]
max_size = "8MiB"   # rotates (and gzips) every few minutes under the soak's load
keep = 3

[rules]
shipped = false

[[watch]]
name = "results"
path = "{d['results']}"
recursive = true
ignore = [".*", "*.tmp"]

[[worker]]
name = "crashy"
argv = ["sh", "-c", "{crashy}"]
env = {{ AW_SOAK = "{d['marker']}" }}
restart = "on-failure"
stable_after = "3s"        # a 5 s run is healthy: budget, backoff and circuit reset
max_restarts = 1000
restart_window = "1m"
circuit_threshold = 0
min_spawn_interval = "1s"

[[worker]]
name = "steady"
argv = ["sh", "-c", '{steady}']
env = {{ AW_SOAK = "{d['marker']}" }}
restart = "always"
heartbeat = "{d['state']}/workers/steady.log"
heartbeat_timeout = "10s"
runtime_limit = "8m"       # timing_out, extended once on its heartbeat, then killed as hung
timeout_grace = "20s"
max_extensions = 1
kill_grace = "2s"

[[log]]
name = "agent"
path = "{d['logs']}/agent.log"
entity = "agent-log"
stall_after = "20s"
patterns = [
  {{ id = "error", regex = 'ERROR: (?P<msg>.*)' }},
  {{ id = "done", regex = 'DONE job (?P<job>\\d+)' }},
]
"""


def fleet_rules(d):
    return f"""# agentwatch soak rules (tests/soak/run_soak.py)
[[rule]]
name = "soak-file"
description = "A valid result is filed in done/, then a command runs"
on = "file.landed"
when = [
  {{ field = "fields.watch", equals = "results" }},
  {{ field = "fields.rel", glob = "*.json" }},
  {{ json_valid = true }},
]
  [[rule.action]]
  do = "move"
  to = "{{root}}/done"
  root = "{{root}}"
  [[rule.action]]
  do = "run"
  argv = ["true", "{{name}}"]
  timeout = "30s"

[[rule]]
name = "soak-invalid"
on = "file.landed"
when = [
  {{ field = "fields.watch", equals = "results" }},
  {{ field = "fields.rel", glob = "*.json" }},
  {{ json_valid = false }},
]
  [[rule.action]]
  do = "quarantine"
  to = "{{root}}/quarantine"
  reason = "not valid JSON ({{fields.size}} bytes)"

[[rule]]
name = "soak-ping"
on = "user.soak-ping"
  [[rule.action]]
  do = "emit"
  kind = "soak.pinged"
  entity = "{{entity}}"
  fields = {{ n = "{{fields.n}}" }}

[[rule]]
name = "soak-log-error"
on = "log.line"
when = [ {{ field = "fields.pattern", equals = "error" }} ]
  [[rule.action]]
  do = "emit"
  kind = "soak.log-error"
  entity = "{{entity}}"
  fields = {{ msg = "{{fields.msg}}" }}

[[rule]]
name = "soak-worker-exited"
on = "worker.exited"
  [[rule.action]]
  do = "run"
  argv = ["true", "{{entity}}"]

[[rule]]
name = "soak-rotate-steady"
every = "30s"
  [[rule.action]]
  do = "rotate"
  path = "{d['state']}/workers/steady.log"
  max_size = "8KiB"
  keep = 2
  method = "copytruncate"
"""


def make_fleet(base):
    d = {k: os.path.join(base, k) for k in ("config", "state", "runtime")}
    d["rules"] = os.path.join(d["config"], "rules.d")
    d["fleet"] = os.path.join(base, "fleet")
    d["results"] = os.path.join(d["fleet"], "results")
    d["done"] = os.path.join(d["results"], "done")
    d["quarantine"] = os.path.join(d["results"], "quarantine")
    d["logs"] = os.path.join(d["fleet"], "logs")
    for k in ("rules", "state", "results", "done", "quarantine", "logs"):
        os.makedirs(d[k], exist_ok=True)
    os.makedirs(d["runtime"], mode=0o700, exist_ok=True)
    d["conf_file"] = os.path.join(d["config"], "agentwatch.toml")
    d["marker"] = base  # in every worker's environment: what to clean up at the end
    with open(d["conf_file"], "w") as fh:
        fh.write(fleet_config(d))
    with open(os.path.join(d["rules"], "soak.toml"), "w") as fh:
        fh.write(fleet_rules(d))
    return d


# ---------------------------------------------------------------------------
# Talking to the daemon


def control(runtime_dir, method, params=None, timeout=3.0):
    """One request on the control socket (docs/control.md); the result, or None."""
    req = {"id": 1, "method": method}
    if params:
        req["params"] = params
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(os.path.join(runtime_dir, "control.sock"))
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        reply = json.loads(buf.split(b"\n", 1)[0])
        return reply.get("result") if reply.get("ok") else None
    except (OSError, ValueError):
        return None


class EventTail(threading.Thread):
    """Follows events.jsonl across its rotations and counts what the checks need."""

    def __init__(self, state_dir, stop):
        super().__init__(daemon=True)
        self.path = os.path.join(state_dir, "events.jsonl")
        self.stop = stop
        self.lock = threading.Lock()
        self.kinds = {}
        self.counts = {}  # derived counters, see count()
        self.failed = {}  # (rule, action, category) -> [count, first message]
        self.lines = 0
        self.bad_lines = 0
        self.pending = b""
        self.started = threading.Event()

    def bump(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.counts.get(key, 0)

    def handle(self, e):
        kind = e.get("kind", "")
        f = e.get("fields") or {}
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "daemon.started":
            self.started.set()
        elif kind == "action.succeeded":
            self.bump(f"ok:{e.get('rule')}:{f.get('action')}")
            if f.get("action") == "rotate" and f.get("rotated"):
                self.bump("steady_rotations")
        elif kind == "action.failed":
            key = (e.get("rule"), f.get("action"), f.get("category"))
            slot = self.failed.setdefault(key, [0, f.get("message", "")])
            slot[0] += 1
        elif kind == "worker.started":
            self.bump(f"started:{e.get('entity')}")
        elif kind == "log.line":
            self.bump(f"logline:{f.get('pattern')}")
        elif kind == "user.soak-ping":
            self.bump("pings")

    def consume(self, data):
        if not data:
            return False
        self.pending += data
        *whole, self.pending = self.pending.split(b"\n")
        with self.lock:
            for line in whole:
                self.lines += 1
                try:
                    self.handle(json.loads(line))
                except ValueError:
                    self.bad_lines += 1
        return True

    def run(self):
        fh, ino = None, None
        while True:
            stopping = self.stop.is_set()
            if fh is None:
                try:
                    fh = open(self.path, "rb")
                    ino = os.fstat(fh.fileno()).st_ino
                except FileNotFoundError:
                    fh = None
            if fh is not None:
                if self.consume(fh.read()):
                    continue
                # At the end of this file: has the path moved on to a new one? The writer
                # renames it first, so what this one got before that is read now.
                try:
                    if os.stat(self.path).st_ino != ino:
                        self.consume(fh.read())
                        fh.close()
                        fh, self.pending = None, b""
                        continue
                except FileNotFoundError:
                    pass
            if stopping:
                break
            self.stop.wait(0.5)
        if fh is not None:
            fh.close()


# ---------------------------------------------------------------------------
# Load generators (each a thread at a steady rate)


def paced(stop, rate, step):
    """Calls step(i) `rate` times a second until stop, without bursting to catch up.
    A rate of 0 leaves that part of the fleet out (to find which part makes something grow)."""
    if rate <= 0:
        return
    period = 1.0 / rate
    nxt = time.monotonic()
    i = 0
    while not stop.is_set():
        step(i)
        i += 1
        nxt += period
        delay = nxt - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        elif delay < -10 * period:
            nxt = time.monotonic()


class Fleet:
    def __init__(self, args, d, rng):
        self.args, self.d = args, d
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.n = {"written": 0, "invalid": 0, "filed": 0, "quarantined": 0,
                  "log_lines": 0, "log_errors": 0, "log_dones": 0, "log_rotations": 0,
                  "notify_sent": 0, "notify_failed": 0}
        self.notify_errors = []
        self.seeds = [rng.randrange(1 << 30) for _ in range(4)]
        self.path_flags = ["--config", d["conf_file"], "--state-dir", d["state"],
                           "--runtime-dir", d["runtime"]]

    def add(self, key, n=1):
        with self.lock:
            self.n[key] += n

    # Result files: every 25th is not valid JSON; half arrive by rename, half by close-write.
    def write_files(self):
        rng = random.Random(self.seeds[0])
        results = self.d["results"]

        def step(i):
            name = f"job-{i:07d}.json"
            if i % 25 == 24:
                body = '{"status": "done", "truncated'
                self.add("invalid")
            else:
                body = json.dumps({"job": i, "status": "done", "worker": f"agent-{i % 8}",
                                   "output": "x" * rng.randrange(50, 2000)})
            if i % 2:
                tmp = os.path.join(results, f".{name}.tmp")
                with open(tmp, "w") as fh:
                    fh.write(body)
                os.rename(tmp, os.path.join(results, name))
            else:
                with open(os.path.join(results, name), "w") as fh:
                    fh.write(body)
            self.add("written")
            if i % max(1, int(self.args.file_rate * 2)) == 0:
                self.prune()

        paced(self.stop, self.args.file_rate, step)

    def prune(self):
        """Deletes what the rules filed; counts it (a .reason file is not a result)."""
        for sub, key in (("done", "filed"), ("quarantine", "quarantined")):
            path = self.d[sub]
            try:
                names = os.listdir(path)
            except FileNotFoundError:
                continue
            for name in names:
                try:
                    os.unlink(os.path.join(path, name))
                except (FileNotFoundError, IsADirectoryError):
                    continue
                if name.endswith(".json"):
                    self.add(key)

    def pending_files(self):
        try:
            return sum(1 for n in os.listdir(self.d["results"]) if n.endswith(".json"))
        except FileNotFoundError:
            return 0

    # The tailed log: 10 lines a second, every 40th an ERROR, every 100th a DONE; rotated
    # by rename (the writer reopens it for every line, as logpipe does) at 64 KiB.
    def write_log(self):
        rng = random.Random(self.seeds[1])
        path = os.path.join(self.d["logs"], "agent.log")

        def step(i):
            if i % 40 == 39:
                line = f"ERROR: step {i} failed: exit {rng.randrange(1, 128)}"
                self.add("log_errors")
            elif i % 100 == 99:
                line = f"DONE job {i}"
                self.add("log_dones")
            else:
                line = f"step {i} ok in {rng.randrange(1, 999)} ms " + "." * rng.randrange(0, 80)
            with open(path, "a") as fh:
                fh.write(line + "\n")
            self.add("log_lines")
            try:
                if os.path.getsize(path) >= 64 * KIB:
                    os.replace(path, path + ".1")
                    self.add("log_rotations")
            except FileNotFoundError:
                pass

        paced(self.stop, self.args.log_rate, step)

    # Notify messages through the CLI, as a tmux hook sends them.
    def send_notifies(self):
        rng = random.Random(self.seeds[2])

        def step(i):
            argv = [self.args.bin, *self.path_flags, "notify", "user.soak-ping",
                    f"entity=agent-{rng.randrange(8)}", f"n={i}",
                    f"pane_pid={rng.randrange(1, 99999)}"]
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace")
            if r.returncode == 0:
                self.add("notify_sent")
            else:
                self.add("notify_failed")
                if len(self.notify_errors) < 5:
                    self.notify_errors.append(f"exit {r.returncode}: {r.stdout.strip()}")

        paced(self.stop, self.args.notify_rate, step)

    def start(self):
        self.threads = [threading.Thread(target=t, daemon=True)
                        for t in (self.write_files, self.write_log, self.send_notifies)]
        for t in self.threads:
            t.start()

    def halt(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


# ---------------------------------------------------------------------------
# Sampling


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as fh:
        rest = fh.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # utime + stime (fields 14 and 15)


def children_of(pid):
    kids = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                rest = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == pid:
            kids += 1
    return kids


def file_size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def open_intents(path):
    """Intents opened and not closed yet, from the records of the intents file."""
    opened = set()
    try:
        with open(path, "rb") as fh:
            for line in fh:
                parts = line.rstrip(b"\n").split(b"\t")
                if len(parts) >= 3 and parts[1] == b"open":
                    opened.add(parts[2])
                elif len(parts) >= 3 and parts[1] == b"close":
                    opened.discard(parts[2])
    except FileNotFoundError:
        return 0
    return len(opened)


class Sampler:
    def __init__(self, pid, d, fleet, t0):
        self.pid, self.d, self.fleet, self.t0 = pid, d, fleet, t0
        self.hz = os.sysconf("SC_CLK_TCK")
        self.last_cpu = None
        self.rows = []

    def sample(self):
        now = time.monotonic()
        st = proc_status(self.pid)
        ticks = cpu_ticks(self.pid)
        cpu_pct = ""
        if self.last_cpu:
            dt = now - self.last_cpu[0]
            cpu_pct = round(100.0 * (ticks - self.last_cpu[1]) / self.hz / dt, 1) if dt > 0 else ""
        self.last_cpu = (now, ticks)
        status = control(self.d["runtime"], "status") or {}
        state = self.d["state"]
        row = {
            "time": round(now - self.t0, 1),
            "rss_kb": int(st["VmRSS"].split()[0]),
            "fds": len(os.listdir(f"/proc/{self.pid}/fd")),
            "intents_bytes": file_size(os.path.join(state, "intents")),
            "file_index_bytes": file_size(os.path.join(state, "file-index")),
            "in_flight": status.get("in_flight", ""),
            "events": status.get("events", ""),
            "rss_anon_kb": int(st["RssAnon"].split()[0]),
            "rss_file_kb": int(st["RssFile"].split()[0]),
            "open_intents": open_intents(os.path.join(state, "intents")),
            "threads": int(st["Threads"]),
            "pending_files": self.fleet.pending_files(),
            "children": children_of(self.pid),
            "lifecycle_bytes": file_size(os.path.join(state, "lifecycle.journal")),
            "event_log_bytes": file_size(os.path.join(state, "events.jsonl")),
            "cpu_pct": cpu_pct,
            "actions_ok": status.get("actions_ok", ""),
            "actions_failed": status.get("actions_failed", ""),
        }
        self.rows.append(row)
        return row


# ---------------------------------------------------------------------------
# Judging


def fit(ts, ys):
    """Least squares y = a + b t: (b, standard error of b)."""
    n = len(ts)
    mt, my = sum(ts) / n, sum(ys) / n
    sxx = sum((t - mt) ** 2 for t in ts)
    if n < 3 or sxx == 0:
        return 0.0, 0.0
    b = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / sxx
    a = my - b * mt
    resid = sum((y - a - b * t) ** 2 for t, y in zip(ts, ys))
    return b, (resid / (n - 2) / sxx) ** 0.5


def judge(rows, warmup_s):
    """Per series: first/last/min/max, slope and floor rise per hour, verdict.

    Growing means both: the least-squares slope is past the tolerance, and the floor
    (the minimum of each half of the window) rose by more than the tolerance over the
    time between the halves plus the series' sampling step (the median move between
    two samples: a minimum cannot be placed more finely than that). A transient (an fd
    of a running action) or a file compacted now and then (a sawtooth) has a flat
    floor; a leak raises it. A series with a documented bound (CAPS) must also stay
    under it.
    """
    post = [r for r in rows if r["time"] >= warmup_s]
    out = []
    for name in COLUMNS[1:]:
        pts = [(r["time"], r[name]) for r in post if r[name] != ""]
        if len(pts) < 4:
            continue
        ts = [p[0] / 3600.0 for p in pts]
        ys = [float(p[1]) for p in pts]
        slope, se = fit(ts, ys)
        half = len(pts) // 2
        t1 = sum(ts[:half]) / half
        t2 = sum(ts[half:]) / (len(ts) - half)
        rise = min(ys[half:]) - min(ys[:half])
        steps = sorted(abs(b - a) for a, b in zip(ys, ys[1:]))
        step = steps[len(steps) // 2]
        row = {"name": name, "first": ys[0], "last": ys[-1], "min": min(ys), "max": max(ys),
               "slope": slope, "se": se, "floor": rise / (t2 - t1) if t2 > t1 else 0.0,
               "judged": name in JUDGED or name in CAPS, "growing": False, "tol": None,
               "why": ""}
        if name in JUDGED:
            level = sum(ys[:max(1, half // 2)]) / max(1, half // 2)
            tol = JUDGED[name](level)
            row["tol"] = tol
            if slope > tol and rise > tol * (t2 - t1) + step:
                row["growing"], row["why"] = True, "GROWING"
        if name in CAPS and max(ys) > CAPS[name][0]:
            row["growing"], row["why"] = True, f"OVER {fmt_bytes(CAPS[name][0])}"
        out.append(row)
    return out


def fmt_bytes(n):
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g}{unit}"
    return f"{n} B"


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float) and v != int(v):
        return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return f"{int(v)}"


def fmt_slope(v):
    return f"{v:+.0f}" if abs(v) >= 100 else f"{v:+.1f}"


def print_table(judged):
    head = ["series", "first", "last", "min", "max", "slope/h", "floor/h", "tol/h", "verdict"]
    rows = []
    for j in judged:
        tol = fmt(j["tol"]) if j["tol"] is not None else ""
        if j["name"] in CAPS:
            tol += (", " if tol else "") + f"max {fmt_bytes(CAPS[j['name']][0])}"
        tol = tol or "-"
        verdict = (j["why"] if j["growing"] else "ok") if j["judged"] else "(info)"
        rows.append([j["name"], fmt(j["first"]), fmt(j["last"]), fmt(j["min"]), fmt(j["max"]),
                     fmt_slope(j["slope"]), fmt_slope(j["floor"]), tol, verdict])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))

    print(line(head))
    for r in rows:
        print(line(r))


# ---------------------------------------------------------------------------


def start_daemon(args, d):
    log = open(os.path.join(d["fleet"], "daemon.log"), "w")
    argv = [args.bin, "--config", d["conf_file"], "--state-dir", d["state"],
            "--runtime-dir", d["runtime"], "run", "--stop-workers",
            "--http", "127.0.0.1:0"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    return proc


def daemon_log_tail(d, n=30):
    try:
        with open(os.path.join(d["fleet"], "daemon.log"), errors="replace") as fh:
            return "".join(fh.readlines()[-n:])
    except OSError:
        return ""


def stop_daemon(proc, timeout=30):
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def kill_fleet_leftovers(marker):
    """SIGKILLs what a daemon that died left running: the processes (workers and their
    children) whose environment carries this run's AW_SOAK marker, and nothing else."""
    want = f"AW_SOAK={marker}".encode()
    killed = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
        except OSError:
            continue
        if want in env:
            try:
                os.kill(int(name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def warmup_for(duration):
    """The first minute or the first 20 %, whichever is longer (at most half the run)."""
    return min(max(60.0, 0.2 * duration), 0.5 * duration)


def read_report(path):
    rows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append({k: float(r[k]) if r.get(k) not in (None, "") else "" for k in COLUMNS})
    return rows


def print_verdict(rows, warmup):
    judged = judge(rows, warmup)
    print(f"after a {warmup:.0f} s warm-up, {sum(1 for r in rows if r['time'] >= warmup)} "
          f"samples; slope/h: least-squares slope, floor/h: rise of the minimum (second "
          f"half of the window vs first), both per hour")
    print_table(judged)
    return sum(1 for j in judged if j["growing"])


def rejudge(path):
    """--judge: the verdict on a report written by an earlier run, without running anything."""
    rows = read_report(path)
    if len(rows) < 8:
        print(f"soak: {path}: {len(rows)} samples, too few to judge", file=sys.stderr)
        return 2
    duration = rows[-1]["time"]
    growing = print_verdict(rows, warmup_for(duration))
    print(f"soak: {duration / 60:.3g} minutes, {len(rows)} samples, {growing} series growing")
    return 1 if growing else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", help="the agentwatch executable (a release build)")
    ap.add_argument("--judge", metavar="CSV",
                    help="only judge the samples of an earlier run's --report (no --bin)")
    ap.add_argument("--minutes", type=float, default=30, help="how long to run (default 30)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the fleet's randomness")
    ap.add_argument("--report", help="write the samples there as CSV")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between samples (5)")
    ap.add_argument("--file-rate", type=float, default=4.0,
                    help="result files a second (4; 0 leaves them out)")
    ap.add_argument("--notify-rate", type=float, default=3.0,
                    help="notify messages a second (3; 0 leaves them out)")
    ap.add_argument("--log-rate", type=float, default=10.0,
                    help="log lines a second (10; 0 leaves them out)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.judge:
        return rejudge(args.judge)
    if not args.bin:
        ap.error("--bin is required (or --judge CSV)")
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        print(f"soak: {args.bin} is not an executable", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    duration = args.minutes * 60.0
    warmup = warmup_for(duration)

    base = tempfile.mkdtemp(prefix="aw-soak-")
    d = make_fleet(base)
    print(f"soak: {args.minutes:g} minutes, seed {seed}, in {base}; "
          f"{args.file_rate:g} files/s, {args.notify_rate:g} notify/s, "
          f"{args.log_rate:g} log lines/s, a sample every {args.interval:g} s", flush=True)

    stop_tail = threading.Event()
    tail = EventTail(d["state"], stop_tail)
    tail.start()
    proc = start_daemon(args, d)
    if not tail.started.wait(20) or proc.poll() is not None:
        print("soak: the daemon did not start:\n" + daemon_log_tail(d), file=sys.stderr)
        stop_daemon(proc)
        stop_tail.set()
        return 2

    fleet = Fleet(args, d, rng)
    t0 = time.monotonic()
    sampler = Sampler(proc.pid, d, fleet, t0)
    fleet.start()
    failures = []
    interrupted = False
    next_sample = t0
    last_print = t0
    try:
        while time.monotonic() - t0 < duration:
            if proc.poll() is not None:
                failures.append(f"the daemon exited (status {proc.returncode}) after "
                                f"{time.monotonic() - t0:.0f} s:\n{daemon_log_tail(d)}")
                break
            try:
                row = sampler.sample()
            except OSError:  # it is gone: the next round says how it ended
                time.sleep(0.2)
                continue
            if time.monotonic() - last_print >= 60 or len(sampler.rows) == 1:
                last_print = time.monotonic()
                print(f"  {row['time']:7.0f} s  rss {row['rss_kb']} kB  fds {row['fds']}  "
                      f"intents {row['intents_bytes']} B ({row['open_intents']} open)  "
                      f"file-index {row['file_index_bytes']} B  in_flight {row['in_flight']}  "
                      f"events {row['events']}  cpu {row['cpu_pct']}%", flush=True)
            next_sample += args.interval
            time.sleep(max(0.0, next_sample - time.monotonic()))
    except KeyboardInterrupt:
        interrupted = True
        print("soak: interrupted; judging what was sampled", flush=True)
    ran_s = time.monotonic() - t0

    # Let the fleet drain, then stop the daemon cleanly.
    fleet.halt()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        fleet.prune()
        if fleet.pending_files() == 0 and tail.get("pings") >= fleet.n["notify_sent"]:
            break
        time.sleep(0.5)
    time.sleep(1.0)
    fleet.prune()
    final_status = control(d["runtime"], "status") or {}
    workers = {w.get("name"): w for w in control(d["runtime"], "workers.list") or []}
    rc = stop_daemon(proc)
    stop_tail.set()
    tail.join(timeout=30)
    leftovers = kill_fleet_leftovers(d["marker"])

    if args.report:
        with open(args.report, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(sampler.rows)

    # What the fleet saw.
    n = fleet.n
    if rc != 0 and not failures:
        failures.append(f"the daemon's stop: status {rc}\n{daemon_log_tail(d)}")
    if leftovers and rc == 0:
        failures.append(f"{leftovers} worker processes outlived `run --stop-workers` (killed)")
    lost = n["written"] - n["filed"] - n["quarantined"] - fleet.pending_files()
    if lost or fleet.pending_files():
        failures.append(f"files: {n['written']} written, {n['filed']} filed, "
                        f"{n['quarantined']} quarantined, {fleet.pending_files()} still pending")
    if n["quarantined"] != n["invalid"]:
        failures.append(f"files: {n['invalid']} invalid written, {n['quarantined']} quarantined")
    if n["notify_failed"]:
        failures.append(f"notify: {n['notify_failed']} sends failed: {fleet.notify_errors}")
    if tail.get("pings") != n["notify_sent"]:
        failures.append(f"notify: {n['notify_sent']} sent, {tail.get('pings')} delivered")
    for pat, key in (("error", "log_errors"), ("done", "log_dones")):
        if tail.get(f"logline:{pat}") != n[key]:
            failures.append(f"log: {n[key]} '{pat}' lines written, "
                            f"{tail.get(f'logline:{pat}')} log.line events")
    crashy = tail.get("started:crashy")
    expect = ran_s / 6.5  # a 5 s run, then at least min_spawn_interval; leave room
    if crashy < 1 + 0.5 * expect:
        failures.append(f"worker crashy: started {crashy} times in {ran_s:.0f} s "
                        f"(expected about {expect:.0f})")
    for name, w in workers.items():
        if w.get("phase") in ("gave_up", "circuit_open", "stopped"):
            failures.append(f"worker {name}: {w.get('phase')} at the end ({w})")
    if tail.kinds.get("worker.gave_up"):
        failures.append(f"workers: {tail.kinds['worker.gave_up']} worker.gave_up")
    for (rule, action, category), (count, message) in sorted(tail.failed.items(), key=str):
        if category == "interrupted":
            continue  # the final stop
        failures.append(f"action.failed x{count}: rule {rule}, {action}, {category}: {message}")
    if tail.bad_lines:
        failures.append(f"events: {tail.bad_lines} lines of events.jsonl are not JSON")
    for kind in ("notify.refused", "watch.overflow", "watch.degraded", "log.error",
                 "rules.rejected", "worker.spawn_failed"):
        if tail.kinds.get(kind):
            failures.append(f"events: {tail.kinds[kind]} {kind}")

    print()
    growing = print_verdict(sampler.rows, warmup)
    print()
    events_total = tail.lines
    print(f"fleet: {n['written']} files ({n['filed']} filed, {n['quarantined']} quarantined), "
          f"{n['notify_sent']} notify sent / {tail.get('pings')} delivered, "
          f"{n['log_lines']} log lines ({n['log_rotations']} rotations; "
          f"{tail.get('logline:error') + tail.get('logline:done')} matched), "
          f"crashy started {crashy}x, steady {tail.get('started:steady')}x "
          f"(output rotated {tail.get('steady_rotations')}x); "
          f"{events_total} events logged "
          f"({events_total / max(ran_s, 1):.0f}/s), daemon stop status {rc}")
    if final_status:
        print(f"daemon: events {final_status.get('events')}, actions ok "
              f"{final_status.get('actions_ok')}, failed {final_status.get('actions_failed')}")
    for f in failures:
        print(f"check FAILED: {f}")
    if args.report:
        print(f"samples written to {args.report}")
    if args.keep or failures or growing:
        print(f"kept {base} (daemon output: {d['fleet']}/daemon.log)")
    else:
        shutil.rmtree(base, ignore_errors=True)
    tail_note = f", {len(failures)} checks failed" if failures else ""
    tail_note += " (interrupted)" if interrupted else ""
    print(f"soak: {ran_s / 60:.3g} minutes, {len(sampler.rows)} samples, "
          f"{growing} series growing{tail_note}", flush=True)
    return 1 if growing or failures else 0


if __name__ == "__main__":
    sys.exit(main())
