"""The crash harness's side of the daemon: where everything lives, the config
and rules it runs with, starting / SIGKILLing / stopping it, following its
event log, and reaping what it leaves behind (tests/crash/run_crash.py).
"""
import ctypes
import fcntl
import gzip
import json
import os
import re
import signal
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

INBOX_WATCH = "inbox"
# Two workers that crash now and then: (name, seconds to live, exit code).
# They live longer than the harness's post-stop check takes, so a copy the
# daemon lost track of is still holding its lock when that check looks.
WORKERS = (("crashy-a", "2.5", "3"), ("crashy-b", "4", "1"))


class Layout:
    """Every path of one run, under one temporary directory. `base` is the move
    actions' root: it holds the watched inbox and done/, which is outside the
    watch."""

    def __init__(self, base):
        self.base = base
        self.config_dir = os.path.join(base, "config")
        self.config_file = os.path.join(self.config_dir, "agentwatch.toml")
        self.rules_dir = os.path.join(self.config_dir, "rules.d")
        self.state_dir = os.path.join(base, "state")
        self.runtime_dir = os.path.join(base, "run")
        self.inbox = os.path.join(base, "inbox")
        self.staging = os.path.join(base, "staging")  # files are written here, then renamed in
        self.done = os.path.join(base, "done")
        self.effects = os.path.join(base, "effects")  # rule `record`: "A name" / "B name"
        self.stamps = os.path.join(base, "stamps")  # rule `stamp`: "name"
        self.pings = os.path.join(base, "pings")  # rule `ping`: "n"
        self.workers_dir = os.path.join(base, "workers")  # NAME.lock, NAME.log
        self.daemon_stderr = os.path.join(base, "daemon.stderr")
        self.event_log = os.path.join(self.state_dir, "events.jsonl")
        self.intents = os.path.join(self.state_dir, "intents")

    def make(self):
        for d in (self.config_dir, self.rules_dir, self.state_dir, self.inbox, self.staging,
                  self.done, self.workers_dir):
            os.makedirs(d, exist_ok=True)
        os.makedirs(self.runtime_dir, mode=0o700, exist_ok=True)

    def path_flags(self):
        # As tests/integration/harness.cc's DaemonUnderTest::path_flags().
        return ["--config", self.config_file, "--state-dir", self.state_dir,
                "--runtime-dir", self.runtime_dir]

    def env(self):
        """The environment of the daemon and of `agentwatch notify`: nothing of
        the user's own agentwatch, tmux or XDG dirs is touched."""
        env = dict(os.environ)
        env.update({
            "HOME": self.base,
            "XDG_CONFIG_HOME": os.path.join(self.base, "xdg-config"),
            "XDG_STATE_HOME": os.path.join(self.base, "xdg-state"),
            "XDG_RUNTIME_DIR": self.runtime_dir,
            "TMUX_TMPDIR": self.base,
        })
        env.pop("TMUX", None)
        env.pop("JOURNAL_STREAM", None)  # diagnostics with timestamps, in daemon.stderr
        env.pop("NOTIFY_SOCKET", None)
        return env

    def worker_lock(self, name):
        return os.path.join(self.workers_dir, name + ".lock")

    def worker_log(self, name):
        return os.path.join(self.workers_dir, name + ".log")


def toml_string(s):
    # A TOML basic string; JSON's escapes are TOML's for what a path holds.
    return json.dumps(s)


def write_config(layout, with_workers):
    lines = [
        "[daemon]",
        'shutdown_grace = "5s"',
        "",
        "[rules]",
        "shipped = false",
        f"dir = {toml_string(layout.rules_dir)}",
        "",
        "[[watch]]",
        f'name = "{INBOX_WATCH}"',
        f"path = {toml_string(layout.inbox)}",
        "recursive = false",
        'ignore = [".*"]',
    ]
    if with_workers:
        script = os.path.join(HERE, "crashy-worker.sh")
        for name, seconds, code in WORKERS:
            argv = ["/bin/sh", script, layout.worker_lock(name), layout.worker_log(name),
                    seconds, code]
            lines += [
                "",
                "[[worker]]",
                f'name = "{name}"',
                "argv = [" + ", ".join(toml_string(a) for a in argv) + "]",
                'restart = "always"',
                # A crash loop that never gives up and never opens the breaker:
                # the harness wants restarts, across daemon kills, all run long.
                "max_restarts = 1000000",
                'restart_window = "1m"',
                'stable_after = "1s"',
                'min_spawn_interval = "100ms"',
                "circuit_threshold = 0",
                'backoff = { initial = "100ms", factor = 2.0, max = "1s", jitter = 0.2 }',
                'kill_grace = "1s"',
            ]
    with open(layout.config_file, "w") as fh:
        fh.write("\n".join(lines) + "\n")

    with open(os.path.join(HERE, "crash-rules.toml")) as fh:
        rules = fh.read()
    for key, value in (("@BASE@", layout.base), ("@DONE@", layout.done),
                       ("@EFFECTS@", layout.effects), ("@STAMPS@", layout.stamps),
                       ("@PINGS@", layout.pings)):
        rules = rules.replace(f'"{key}"', toml_string(value))
    with open(os.path.join(layout.rules_dir, "crash.toml"), "w") as fh:
        fh.write(rules)


class ChildPids:
    """The pids of the processes this harness started itself and waits for:
    the orphan reaper must leave them to their owners."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pids = set()

    def add(self, pid):
        with self._lock:
            self._pids.add(pid)

    def discard(self, pid):
        with self._lock:
            self._pids.discard(pid)

    def __contains__(self, pid):
        with self._lock:
            return pid in self._pids


CHILDREN = ChildPids()


def spawn(argv, **kwargs):
    """subprocess.Popen, registered so that the orphan reaper leaves it alone.
    Each gets a process group of its own, as the daemon gives its children."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    CHILDREN.add(proc.pid)
    return proc


def run_quick(argv, timeout, **kwargs):
    """subprocess.run for a short command, registered as spawn() does."""
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return subprocess.CompletedProcess(argv, -1, out, err + "\n(timed out)")
    finally:
        CHILDREN.discard(proc.pid)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


class EventLogTail:
    """Reads whole new lines of events.jsonl as they are written (for waiting
    on daemon.started). The harness never lets the log rotate (it stays far
    below 64 MiB), so following the one file is enough."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_events(self):
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()  # not a record until its newline is there
        events = []
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                continue  # damage is the final check's business
            if isinstance(e, dict):
                events.append(e)
        return events


_T0 = time.monotonic()


def clock():
    """Seconds since the harness started: the time of its own records."""
    return round(time.monotonic() - _T0, 3)


class StartFailed(RuntimeError):
    def __init__(self, message, stderr_tail):
        super().__init__(message)
        self.stderr_tail = stderr_tail


class Daemon:
    """One `agentwatch run` at a time, over the same layout."""

    def __init__(self, binary, layout):
        self.binary = binary
        self.layout = layout
        self.proc = None
        self.tail = EventLogTail(layout.event_log)
        self.starts = 0  # attempts
        self.started = 0  # starts that logged daemon.started
        # (seconds since the harness started, what, pid): evidence for the
        # violations that depend on when the daemon was up.
        self.timeline = []
        self.lock_file = os.path.join(layout.runtime_dir, "agentwatch.lock")
        self.lock_after_kill = []  # who held the lock right after the last SIGKILL
        self.crash_at = None  # the crash point armed for the daemon running now
        self.crash_points_hit = 0  # daemons that killed themselves at their point

    def start(self, extra_args=(), timeout=60.0, crash_at=None):
        """Starts the daemon and returns True once it logged its daemon.started;
        raises StartFailed if it does not. With `crash_at` ("NAME:N", see
        src/os/crash_point.h) the daemon SIGKILLs itself at that crash point;
        if that comes before its daemon.started, this returns False."""
        assert self.proc is None
        argv = [self.binary] + self.layout.path_flags() + ["run", "--http", "127.0.0.1:0"] + list(extra_args)
        env = self.layout.env()
        if crash_at:
            env["AGENTWATCH_CRASH_AT"] = crash_at
        with open(self.layout.daemon_stderr, "ab") as err:
            crash_note = f" ({'AGENTWATCH_CRASH_AT=' + crash_at})" if crash_at else ""
            err.write(f"--- start {self.starts + 1}{crash_note}: {' '.join(argv)}\n".encode())
            err.flush()
            stderr_from = err.tell()
            self.proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
        self.starts += 1
        self.crash_at = crash_at
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Whether it ended, asked before the log is read: an end seen after
            # reading might have come after a daemon.started not read yet.
            ended = self.proc.poll() is not None
            for e in self.tail.new_events():
                if (e.get("kind") == "daemon.started"
                        and (e.get("fields") or {}).get("pid") == self.proc.pid):
                    self.started += 1
                    self.timeline.append((clock(), "started", self.proc.pid))
                    return True
            if ended and self.crashed_at_its_point():
                return False
            if ended:
                code = self.proc.returncode
                self._forget()
                held = [f"right after the SIGKILL before: {h}" for h in self.lock_after_kill]
                raise StartFailed(f"start {self.starts}: the daemon exited with {code} before "
                                  "daemon.started", self._stderr_since(stderr_from) + held
                                  + [f"now: {h}" for h in lock_holders(self.lock_file)])
            time.sleep(0.005)
        self.kill9()
        raise StartFailed(f"start {self.starts}: no daemon.started within {timeout:.0f} s",
                          self._stderr_since(stderr_from))

    def _stderr_since(self, offset):
        """The daemon's last diagnostics, as evidence (its info lines left out)."""
        with open(self.layout.daemon_stderr, "rb") as fh:
            fh.seek(offset)
            lines = fh.read().decode("utf-8", "replace").splitlines()
        return [line for line in lines if " info]" not in line][-20:]

    def crashed_at_its_point(self):
        """The daemon ended by SIGKILL with a crash point armed, and no SIGKILL
        of ours: it killed itself there. Recorded as a kill, and forgotten."""
        if (self.proc is None or self.proc.poll() is None or not self.crash_at
                or self.proc.returncode != -signal.SIGKILL):
            return False
        self.timeline.append((clock(), "SIGKILL", self.proc.pid))
        self.timeline.append((clock(), "crash point " + self.crash_at, self.proc.pid))
        self.crash_points_hit += 1
        self._forget()
        self.lock_after_kill = lock_holders(self.lock_file)
        return True

    def kill9(self):
        if self.proc is None or self.crashed_at_its_point():
            return
        self.proc.send_signal(signal.SIGKILL)
        self.timeline.append((clock(), "SIGKILL", self.proc.pid))
        self.proc.wait()
        self._forget()
        # Dead and reaped: its instance lock should be free now. If it is not,
        # who holds it is the evidence for the start that will be refused.
        self.lock_after_kill = lock_holders(self.lock_file)

    def stop(self, timeout=30.0):
        """SIGTERM, as systemd stops it. Returns its exit code, or None when it
        did not stop in time (it is SIGKILLed then)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        self.timeline.append((clock(), "SIGTERM", self.proc.pid))
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None
        self._forget()
        return code

    def _forget(self):
        CHILDREN.discard(self.proc.pid)
        self.proc = None


def lock_holders(path):
    """Who holds the daemon's instance lock now, as evidence for a daemon that
    says it is already running when the harness killed and reaped the last
    one: the flock in /proc/locks (with the pid that took it), and every
    process with the file open (an fd inherited by a child that has not
    exec'd yet holds the lock too). Empty when the lock is free again."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return []  # free (and released again as the fd closes)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    st = os.stat(path)
    with open("/proc/locks") as fh:
        locks = fh.read().splitlines()
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    out = [f"flock taken by pid {line.split()[4]} ({describe_process(line.split()[4])})"
           for line in locks if len(line.split()) > 5 and line.split()[5] == dev]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                fd_st = os.stat(f"/proc/{pid}/fd/{fd}")
                if (fd_st.st_dev, fd_st.st_ino) == (st.st_dev, st.st_ino):
                    out.append(f"lock file open as fd {fd} of pid {pid}: "
                               f"{describe_process(pid)}")
            except OSError:
                pass
    return out


def describe_process(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError as e:
        return f"gone ({e.strerror})"
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    rest = stat[stat.rindex(")") + 2:].split()
    return f"comm {comm}, state {rest[0]}, ppid {rest[1]}, exe {exe}"


# --- Orphans -----------------------------------------------------------------
#
# A SIGKILLed daemon leaves its workers and its `run` children behind (each has
# a process group of its own, by design: the fleet outlives the watcher). The
# harness makes itself their subreaper, so they are reparented to it rather
# than to init: it reaps them as they end, and kills what is left at the end.

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _children(pid):
    """(child pid, state letter) of every child of `pid`, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) >= 2 and int(rest[1]) == pid:
            out.append((int(entry), rest[0]))
    return out


class OrphanReaper(threading.Thread):
    """Reaps the zombies of adopted orphans (never a process the harness waits
    for itself), so that they do not pile up and do not hold pids."""

    def __init__(self):
        super().__init__(daemon=True)
        self._stop_event = threading.Event()
        self.reaped = 0

    def run(self):
        while not self._stop_event.wait(0.1):
            self.reap_once()

    def reap_once(self):
        for pid, state in _children(os.getpid()):
            if state == "Z" and pid not in CHILDREN:
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        self.reaped += 1
                except ChildProcessError:
                    pass

    def stop(self):
        self._stop_event.set()
        self.join()


def kill_orphans():
    """SIGKILLs every process group of what is left running of our children
    (orphaned workers and commands), and reaps them and the zombies. Returns
    how many were still running."""
    killed = 0
    for _ in range(10):  # killing one can orphan its own children to us
        OrphanReaper().reap_once()
        left = [pid for pid, _ in _children(os.getpid()) if pid not in CHILDREN]
        if not left:
            break
        for pid in left:
            for kill in (lambda: os.killpg(pid, signal.SIGKILL),
                         lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass
        for pid in left:
            try:
                os.waitpid(pid, 0)
                killed += 1
            except ChildProcessError:
                pass
    return killed


# --- The whole event log -------------------------------------------------------

def _segment_number(name):
    m = re.fullmatch(r"events\.(\d+)\.jsonl(\.gz)?", name)
    return int(m.group(1)) if m else None


def read_event_log(state_dir):
    """Every line of the event log, oldest first: rotated segments in number
    order, then events.jsonl (docs/events.md). Yields (where, event or None,
    raw line); None for a line that is not a JSON object with an integer seq
    and a string kind. A last line without its newline is a line still being
    written: the daemon is stopped when this runs, so it is damage too."""
    segments = []
    for name in os.listdir(state_dir):
        n = _segment_number(name)
        if n is not None:
            segments.append((n, name.endswith(".gz"), name))
    segments.sort()
    paths = []
    seen = set()
    for n, gz, name in segments:
        if n in seen:
            continue  # both forms during a compression: the plain one is whole
        seen.add(n)
        plain = os.path.join(state_dir, f"events.{n:06d}.jsonl")
        paths.append(plain if os.path.exists(plain) else os.path.join(state_dir, name))
    paths.append(os.path.join(state_dir, "events.jsonl"))
    for path in paths:
        if not os.path.exists(path):
            continue
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    e = None
                if not (isinstance(e, dict) and isinstance(e.get("seq"), int)
                        and isinstance(e.get("kind"), str)):
                    e = None
                yield f"{os.path.basename(path)}:{number}", e, line


def open_intents(path):
    """The ids of the intents the intent log holds open (docs/state-files.md:
    'crc TAB record TAB id ...' lines under a header)."""
    opened, closed = set(), set()
    try:
        with open(path, "rb") as fh:
            lines = fh.read().decode("utf-8", "replace").split("\n")
    except FileNotFoundError:
        return set()
    for line in lines[1:]:
        parts = line.split("\t")
        if len(parts) >= 3:
            if parts[1] == "open":
                opened.add(parts[2])
            elif parts[1] == "close":
                closed.add(parts[2])
    return opened - closed
