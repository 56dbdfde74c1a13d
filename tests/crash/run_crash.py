#!/usr/bin/env python3
"""Crash harness: SIGKILL agentwatch under load, check each reaction happened once.

The real daemon is SIGKILLed many times while work goes on; then the harness
checks that every reaction happened exactly once (docs/crash-testing.md).

In a temporary directory it runs `agentwatch run` on a config of its own (one
watched inbox, the rules of crash-rules.toml, two crashing workers) while
  - a storm of files lands in the inbox (renamed in, or written in place),
  - `agentwatch notify user.crash-ping n=N` messages are sent,
and SIGKILLs the daemon --kills times, each 0..--max-delay-ms after it logged
daemon.started, restarting it at once. Then it stops the daemon gracefully,
starts it once more (with --stop-workers) until everything settled, stops it,
and checks the invariants of crash_checks.py. It prints each violation with its
evidence and ends with one line:

    crash: 50 kills, 1000 files, 0 violations

Exit status: 0 without violations, 1 with. Deterministic with --seed (the
files, the delays before each kill, the notifications; not the daemon's own
timing). With --junit-dir it writes DIR/crash.xml (one test case) for
tests/summarize.py.
"""
import argparse
import collections
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the modules below
import crash_checks  # noqa: E402
from crash_daemon import (WORKERS, Daemon, Layout, OrphanReaper, StartFailed,  # noqa: E402
                          become_subreaper, clock, kill_orphans, open_intents, run_quick,
                          write_config)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(msg):
    print(msg, flush=True)


class Paced(threading.Thread):
    """A producer that does `total` things, never more than its quota: the main
    loop raises the quota with each kill, so the work is spread over the run
    and goes on while the daemon is up, being killed, and starting."""

    def __init__(self, total, rng):
        super().__init__(daemon=True)
        self.total = total
        self.rng = rng
        self.done = 0
        self._quota = 0
        self._cond = threading.Condition()
        self.error = None

    def set_quota(self, n):
        with self._cond:
            self._quota = min(self.total, max(self._quota, n))
            self._cond.notify_all()

    def run(self):
        try:
            for i in range(self.total):
                with self._cond:
                    while i >= self._quota:
                        self._cond.wait()
                self.one(i)
                self.done = i + 1
        except Exception as e:  # reported by the main thread
            self.error = e

    def one(self, i):
        raise NotImplementedError


class FileStorm(Paced):
    """Files landing in the inbox, two ways docs/watching.md calls safe: most
    are written outside the watch and renamed in (they land whole, via
    rename); some are written in place in one go (they land at close_write)."""

    def __init__(self, layout, total, rng):
        super().__init__(total, rng)
        self.layout = layout
        self.written = {}  # name -> sha256 of its content

    def one(self, i):
        rng = self.rng
        name = f"f{i:05d}-{rng.randrange(16**6):06x}.json"
        content = ('{"n": %d, "pad": "%s"}\n' % (i, "x" * rng.randrange(0, 2000))).encode()
        in_place = rng.random() < 0.25
        path = os.path.join(self.layout.inbox if in_place else self.layout.staging, name)
        with open(path, "wb") as fh:
            fh.write(content)
        if not in_place:
            os.rename(path, os.path.join(self.layout.inbox, name))
        self.written[name] = hashlib.sha256(content).hexdigest()
        time.sleep(rng.uniform(0, 0.004))


class Notifier(Paced):
    """`agentwatch notify user.crash-ping n=N`, as a tmux hook would run it."""

    def __init__(self, binary, layout, total, rng):
        super().__init__(total, rng)
        self.binary = binary
        self.layout = layout
        self.sent = {}  # n -> (exit code, spooled, stderr, began, ended: clock())

    def one(self, i):
        argv = [self.binary] + self.layout.path_flags() + ["notify", "user.crash-ping", f"n={i}"]
        began = clock()
        r = run_quick(argv, timeout=10, env=self.layout.env())
        self.sent[i] = (r.returncode, "spooled" in r.stderr, r.stderr.strip(), began, clock())
        time.sleep(self.rng.uniform(0, 0.05))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "agentwatch"),
                    help="the agentwatch binary (default: build/agentwatch)")
    ap.add_argument("--kills", type=int, default=50, help="SIGKILLs (default 50)")
    ap.add_argument("--seed", type=int, help="random seed (default: a random one, printed)")
    ap.add_argument("--files", type=int,
                    help="files to land (default: 20 per kill, at least 300, at most 3000)")
    ap.add_argument("--notifications", type=int,
                    help="notifications to send (default: one per kill, at most 500)")
    ap.add_argument("--no-workers", action="store_true", help="declare no [[worker]]")
    ap.add_argument("--crash-points", type=float, default=0.5, metavar="FRACTION",
                    help="the share of restarts armed with a crash point where the daemon "
                         "kills itself (AGENTWATCH_CRASH_AT; default 0.5, 0 for none)")
    ap.add_argument("--max-delay-ms", type=int, default=300,
                    help="each kill comes 0..this after daemon.started (default 300)")
    ap.add_argument("--settle-seconds", type=int, default=180,
                    help="how long the final run may take to finish everything (default 180)")
    ap.add_argument("--workdir", help="run here (kept; an earlier run there is removed "
                    "first) instead of a temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--junit-dir", help="write crash.xml there")
    ap.add_argument("--evidence", type=int, default=5, metavar="N",
                    help="print the evidence of the first N violations of each invariant "
                         "(default 5; the rest get one line each)")
    ap.add_argument("--recheck", metavar="DIR",
                    help="only check again the run kept in DIR (its harness.json)")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 10**9)
    if args.files is None:
        args.files = min(3000, max(300, 20 * args.kills))
    if args.notifications is None:
        args.notifications = min(500, args.kills)
    return args


class Aborted(Exception):
    """The daemon cannot be started any more: the workload ends here."""


# The daemon's crash points (src/os/crash_point.h) and how many passes through
# each a start may get before it kills itself there: the points passed on every
# loop turn get a wider range than the rare ones (a worker spawns a few times
# a start, a notification comes about once).
CRASH_POINTS = {
    "intents-written": 8, "events-written": 8, "index-written": 4,
    "file-moved": 4, "worker-spawned": 2, "notify-logged": 1,
}


def pick_crash_point(args, rng):
    """AGENTWATCH_CRASH_AT for the next start, or None (a random kill only)."""
    if rng.random() >= args.crash_points:
        return None
    name = rng.choice(sorted(CRASH_POINTS))
    return f"{name}:{rng.randint(1, CRASH_POINTS[name])}"


def start_daemon(daemon, violations, extra_args=(), crash_at=None):
    """Starts the daemon; a start that fails (it crashed, or never logged
    daemon.started) is a violation, and is tried again, twice, after 100 ms
    and 300 ms (as a service manager would). One that killed itself at its
    crash point before daemon.started is not: the kill loop starts it again."""
    for wait in (0.1, 0.3, None):
        try:
            daemon.start(extra_args, crash_at=crash_at)
            return
        except StartFailed as e:
            violations.append(crash_checks.Violation("daemon-starts", "daemon", str(e),
                                                     e.stderr_tail))
        if wait:
            time.sleep(wait)
    raise Aborted("the daemon failed to start three times in a row")


def kill_loop(args, daemon, storm, notifier, rng, kills, violations):
    """The faults: --kills SIGKILLs at random moments (or, with an armed crash
    point, where the daemon kills itself first), each followed by a restart,
    while the storm and the notifications go on."""
    points = random.Random(f"{args.seed}/crash-points")
    for k in range(args.kills):
        storm.set_quota(math.ceil(storm.total * (k + 1) / args.kills))
        notifier.set_quota(math.ceil(notifier.total * (k + 1) / args.kills))
        delay_ms = rng.uniform(0, args.max_delay_ms)
        time.sleep(delay_ms / 1000)
        daemon.kill9()
        kills["kills"] += 1
        if daemon.lock_after_kill:
            kills.setdefault("lock held after kill", []).append(
                [k + 1] + daemon.lock_after_kill)
        if (k + 1) % max(1, args.kills // 10) == 0 or k + 1 == args.kills:
            log(f"  kill {k + 1}/{args.kills} ({delay_ms:.0f} ms after daemon.started); "
                f"{storm.done}/{storm.total} files written, "
                f"{notifier.done}/{notifier.total} notifications sent")
        # The last start is stopped gracefully next: it must not kill itself.
        last = k + 1 == args.kills
        start_daemon(daemon, violations,
                     crash_at=None if last else pick_crash_point(args, points))


def settle(layout, timeout):
    """Waits until the final daemon has finished everything: the inbox empty,
    no intent open, no notification spooled, all of it for a whole second.
    Returns how long that took, or None."""
    start = time.monotonic()
    quiet_since = None
    spool = [os.path.join(layout.runtime_dir, n)
             for n in ("notify.spool", "notify.spool.ingesting")]
    while time.monotonic() - start < timeout:
        busy = (any(not n.startswith(".") for n in os.listdir(layout.inbox))
                or open_intents(layout.intents) or any(os.path.exists(p) for p in spool))
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= 1.0:
            return now - start
        time.sleep(0.05)
    return None


def run(args, layout):
    """The workload and the faults. Returns the run's record: what the checks
    need to know of it, with the violations seen while it ran (kept in
    harness.json, so that --recheck can check a kept run again)."""
    violations = []
    kills = {"kills": 0}
    layout.make()
    write_config(layout, with_workers=not args.no_workers)
    become_subreaper()
    reaper = OrphanReaper()
    reaper.start()
    daemon = Daemon(args.binary, layout)
    storm = FileStorm(layout, args.files, random.Random(f"{args.seed}/files"))
    notifier = Notifier(args.binary, layout, args.notifications,
                        random.Random(f"{args.seed}/notify"))
    settled = stopped = False
    try:
        start_daemon(daemon, violations)
        storm.start()
        notifier.start()
        kill_loop(args, daemon, storm, notifier, random.Random(f"{args.seed}/kills"), kills,
                  violations)
        storm.set_quota(storm.total)
        notifier.set_quota(notifier.total)
        storm.join()
        notifier.join()
        for producer in (storm, notifier):
            if producer.error:
                raise RuntimeError(f"the harness's {type(producer).__name__} failed: "
                                   f"{producer.error!r}")
        log(f"  {kills['kills']} kills done; stopping gracefully")
        stop_daemon(daemon, violations, "SIGTERM after the kills")
        # Once more, until the resumed intents and the backlog are done; this
        # one stops the workers, so none is left for the final check.
        start_daemon(daemon, violations, ["--stop-workers"])
        took = settle(layout, args.settle_seconds)
        if took is None:
            violations.append(crash_checks.Violation(
                "settles", "final run", f"not settled after {args.settle_seconds} s "
                f"(inbox, open intents or notify spool not empty)"))
        else:
            log(f"  final run settled in {took:.1f} s")
            settled = True
        stopped = stop_daemon(daemon, violations, "final SIGTERM")
    except Aborted as e:
        log(f"  aborted: {e}")
    finally:
        daemon.kill9()
        storm.set_quota(storm.total)
        notifier.set_quota(notifier.total)
        storm.join(timeout=60)
        notifier.join(timeout=60)
        reaper.stop()
    # Checked before the leftovers are killed: a worker copy still running now
    # is one the daemon lost track of.
    if not args.no_workers and stopped:
        crash_checks.check_workers_stopped(layout, violations)
    orphans = kill_orphans()
    return {
        "seed": args.seed, "kills": kills["kills"], "workers": not args.no_workers,
        "reproduce": reproduce_command(args),
        "daemon_started": daemon.started, "settled": settled,
        "files": storm.written, "notifications": {str(n): s for n, s in notifier.sent.items()},
        "orphans reaped": reaper.reaped, "orphans killed at the end": orphans,
        "timeline": daemon.timeline,
        "crash points hit": daemon.crash_points_hit,
        "lock held after kill": kills.get("lock held after kill", []),
        "violations": [v.to_json() for v in violations],
    }


def reproduce_command(args):
    """The ./dev crash command that runs this run again (the same seed and
    whatever options differ from the defaults)."""
    cmd = ["./dev crash", f"--kills {args.kills}", f"--seed {args.seed}"]
    if args.crash_points != 0.5:
        cmd.append(f"--crash-points {args.crash_points}")
    if args.files != min(3000, max(300, 20 * args.kills)):
        cmd.append(f"--files {args.files}")
    if args.notifications != min(500, args.kills):
        cmd.append(f"--notifications {args.notifications}")
    if args.no_workers:
        cmd.append("--no-workers")
    if args.max_delay_ms != 300:
        cmd.append(f"--max-delay-ms {args.max_delay_ms}")
    return " ".join(cmd)


def stop_daemon(daemon, violations, what):
    """A graceful stop: SIGTERM, and exit status 0 within 30 s."""
    code = daemon.stop()
    if code == 0:
        return True
    violations.append(crash_checks.Violation(
        "graceful-stop", "daemon", f"{what}: " + ("did not stop within 30 s" if code is None
                                                  else f"exit status {code}")))
    return False


def check_run(layout, record):
    """Every invariant, on what the run left. Returns (violations, notes, faults)."""
    violations = [crash_checks.Violation.from_json(v) for v in record["violations"]]
    # Not a violation by itself (the next start may still get the lock): what
    # held the dead daemon's instance lock after it was reaped.
    notes = [f"note: after kill {held[0]} (reaped) the instance lock was still held: "
             + "; ".join(held[1:]) for held in record.get("lock held after kill", [])]
    events = crash_checks.EventLog(layout.state_dir)
    crash_checks.check_log(events, record["daemon_started"], violations)
    if record["workers"]:
        crash_checks.check_workers(layout, events, record["timeline"], violations)
    sent = {int(n): tuple(s) for n, s in record["notifications"].items()}
    if record["settled"]:
        crash_checks.check_actions_paired(events, violations)
        crash_checks.check_settled(layout, violations)
        crash_checks.check_files(layout, events, record["files"],
                                 crash_checks.count_lines(layout.effects),
                                 crash_checks.count_lines(layout.stamps), violations, notes)
        crash_checks.check_pings(events, sent, crash_checks.count_lines(layout.pings),
                                 record["timeline"], violations, notes)
    else:
        notes.append("the final run did not settle: only the event log and the workers "
                     "were checked")

    interrupted = [e for e in events.events if crash_checks.is_interrupted(e)]
    faults = {
        "kills": record["kills"],
        "... at a crash point": record.get("crash points hit", 0),
        "plans resumed": events.kinds["plan.resumed"],
        "actions reported interrupted": len(interrupted),
        "... by a resuming daemon": sum(1 for e in interrupted
                                        if crash_checks.fields(e).get("resumed")),
        "notifications spooled": sum(1 for s in sent.values() if s[1]),
        "file.landed events": sum(len(v) for v in events.landed.values()),
        "events logged": len(events.events),
        "orphans reaped": record["orphans reaped"],
        "orphans killed at the end": record["orphans killed at the end"],
    }
    if record["workers"]:
        for name, starts in crash_checks.worker_starts(layout).items():
            faults[f"worker {name} starts"] = starts
    return violations, notes, faults


def write_junit(path, ok, seconds, summary, output):
    suite = ET.Element("testsuites", tests="1", failures="0" if ok else "1")
    ts = ET.SubElement(suite, "testsuite", name="crash", tests="1",
                       failures="0" if ok else "1", time=f"{seconds:.1f}")
    case = ET.SubElement(ts, "testcase", classname="crash", name="crash", status="run",
                         result="completed", time=f"{seconds:.1f}")
    if not ok:
        fail = ET.SubElement(case, "failure", message=summary)
        fail.text = output[-20000:]
    ET.SubElement(case, "system-out").text = summary
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def main():
    args = parse_args()
    if args.recheck:
        layout = Layout(os.path.abspath(args.recheck))
        with open(os.path.join(layout.base, "harness.json")) as fh:
            record = json.load(fh)
        log(f"crash: checking the run kept in {args.recheck} (seed {record['seed']})")
        return report(layout, record, args, elapsed=None)
    if not os.access(args.binary, os.X_OK):
        print(f"crash: no agentwatch binary at {args.binary} (build it, or pass --binary)",
              file=sys.stderr)
        return 2
    workdir = prepare_workdir(args.workdir) if args.workdir else tempfile.mkdtemp(
        prefix="aw-crash-")
    layout = Layout(os.path.abspath(workdir))
    log(f"crash: seed {args.seed}, {args.kills} kills, {args.files} files, "
        f"{args.notifications} notifications, {0 if args.no_workers else len(WORKERS)} workers "
        f"(in {workdir})")
    started = time.monotonic()
    record = run(args, layout)
    with open(os.path.join(layout.base, "harness.json"), "w") as fh:
        json.dump(record, fh)
    status = report(layout, record, args, elapsed=time.monotonic() - started)
    if status == 0 and not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


def render_violations(violations, evidence_per_invariant):
    """Every violation, one line each; the first few of each invariant with
    their evidence (a run with a systematic fault has hundreds alike)."""
    shown = collections.Counter()
    out = []
    for v in violations:
        shown[v.what] += 1
        out.append(v.render(evidence=shown[v.what] <= evidence_per_invariant))
    return out


def prepare_workdir(path):
    """--workdir: made if missing; a previous run there (its harness.json) is
    removed first, anything else refused (the meson test reuses one dir)."""
    if os.path.isdir(path) and os.listdir(path):
        if not os.path.exists(os.path.join(path, "harness.json")) and not os.path.exists(
                os.path.join(path, "config", "agentwatch.toml")):
            sys.exit(f"crash: --workdir {path} is not empty and holds no earlier run")
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)
    return path


def report(layout, record, args, elapsed):
    """Checks the run, prints the faults, every violation and the summary line."""
    violations, notes, faults = check_run(layout, record)
    log("faults: " + ", ".join(f"{k} {v}" for k, v in faults.items()))
    for note in notes:
        log(note)
    rendered = render_violations(violations, args.evidence)
    for text in rendered:
        log(text)
    if violations:
        kinds = collections.Counter(v.what for v in violations)
        log("violations by invariant: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    summary = (f"crash: {record['kills']} kills, {len(record['files'])} files, "
               f"{len(violations)} violations")
    if violations:
        again = record.get("reproduce") or (f"./dev crash --kills {record['kills']} "
                                            f"--seed {record['seed']}")
        log(f"reproduce: {again}  "
            f"(this run is kept in {layout.base}: state/events.jsonl, daemon.stderr; "
            f"check it again with --recheck {layout.base})")
    if elapsed is not None:
        log(f"wall time {elapsed:.0f} s")
    log(summary)
    if args.junit_dir:
        write_junit(os.path.join(args.junit_dir, "crash.xml"), not violations, elapsed or 0,
                    summary, "\n".join(rendered))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
