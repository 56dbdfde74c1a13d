"""The invariants of the crash harness (tests/crash/run_crash.py): what must
hold after a run in which the daemon was SIGKILLed many times, compared with
what a run without faults gives.

A run without faults gives, for every file: one file.landed, the file in done/
(and nowhere else), one "A name" and one "B name" line from rule `record`, one
line from rule `stamp`; for every notification one event and one line from
rule `ping`. With faults, the intent log (docs/intents.md) promises:

- an action that had not started when the daemon died runs when it resumes;
- one that was in flight is reported `action.failed`, category `interrupted`
  (`resumed: true`); it runs again only if it is idempotent (`move`) or its rule
  says `on_interrupt = "rerun"` (`stamp`); otherwise (`record`) its plan stops
  there: its effect happened at most once, and the step after it never runs;
- so: a `record` line appears exactly once unless that step was reported
  interrupted, then at most once; a `stamp` line at least once (its last
  outcome is ok) and at most once more per interruption reported; a move
  always ends ok;
- every file version lands once (the file index), every action.started gets a
  later outcome, the event log's seq increases across restarts and every line
  parses.

Each check appends Violation()s with the evidence (event-log excerpts).
"""
import bisect
import collections
import fcntl
import hashlib
import os
import time

from crash_daemon import INBOX_WATCH, WORKERS, open_intents, read_event_log

OUTCOMES = ("action.succeeded", "action.failed")


class Violation:
    def __init__(self, what, subject, detail, evidence=()):
        self.what = what  # a short name of the invariant
        self.subject = subject  # the file, notification, worker or log line
        self.detail = detail
        self.evidence = list(evidence)

    def to_json(self):
        return [self.what, self.subject, self.detail, self.evidence]

    @classmethod
    def from_json(cls, v):
        return cls(*v)

    def render(self, evidence=True):
        lines = [f"VIOLATION {self.what}: {self.subject}: {self.detail}"]
        if evidence:
            lines += ["    " + e for e in self.evidence]
        return "\n".join(lines)


def is_interrupted(e):
    return e["kind"] == "action.failed" and fields(e).get("category") == "interrupted"


def fields(e):
    return e.get("fields") or {}


def brief(e):
    """One event as evidence: seq, kind and what tells its story apart."""
    f = fields(e)
    parts = [f"#{e['seq']}", e["kind"]]
    if e.get("rule"):
        parts.append(f"rule={e['rule']}[{f.get('index', '?')}]")
    if e.get("cause"):
        parts.append(f"cause=#{e['cause']}")
    for key in ("category", "resumed", "attempt", "pid", "via", "inode", "size", "notify_id",
                "n", "actions_left", "message"):
        if key in f:
            parts.append(f"{key}={f[key]}")
    if e["kind"] == "daemon.started":
        return f"#{e['seq']} ---- daemon.started pid={f.get('pid')}"
    if e["kind"] == "file.landed" or e["kind"] == "plan.resumed":
        parts.append(os.path.basename(e.get("path", "")))
    return " ".join(str(p) for p in parts)


class EventLog:
    """The whole event log, read once and indexed the ways the checks ask."""

    def __init__(self, state_dir):
        self.events = []
        self.damaged = []  # (where, raw line)
        for where, e, raw in read_event_log(state_dir):
            if e is None:
                self.damaged.append((where, raw))
            else:
                e["_where"] = where
                self.events.append(e)
        self.by_cause = collections.defaultdict(list)
        self.landed = collections.defaultdict(list)  # file name -> its file.landed events
        self.kinds = collections.Counter()
        self.starts = [e for e in self.events if e["kind"] == "daemon.started"]
        self.start_seqs = [e["seq"] for e in self.starts]  # increasing, unless check_log says
        self.by_seq = {e["seq"]: e for e in self.events}
        for e in self.events:
            self.kinds[e["kind"]] += 1
            if e.get("cause"):
                self.by_cause[e["cause"]].append(e)
            if e["kind"] == "file.landed" and fields(e).get("watch") == INBOX_WATCH:
                self.landed[os.path.basename(e.get("path", ""))].append(e)

    def action_story(self, causes, rule, index):
        """action.started and outcomes of action `index` of `rule` for any of
        `causes`, in log order."""
        out = []
        for c in causes:
            out += [e for e in self.by_cause.get(c, ())
                    if e.get("rule") == rule and fields(e).get("index") == index
                    and (e["kind"] == "action.started" or e["kind"] in OUTCOMES)]
        return sorted(out, key=lambda e: e["seq"])

    def story(self, causes, rule=None, limit=60):
        """What the log says about these causes (only their plan.resumed and
        rule `rule`'s events, if given), as evidence, with the daemon's starts
        in between (which daemon did what); at most `limit` lines, the first
        and the last ones."""
        out = [self.by_seq[c] for c in causes if c in self.by_seq]
        for c in causes:
            out += [e for e in self.by_cause.get(c, ())
                    if rule is None or e.get("rule") in (rule, None)]
        if not out:
            return []
        first, last = min(e["seq"] for e in out), max(e["seq"] for e in out)
        out += self.starts[bisect.bisect_right(self.start_seqs, first):
                           bisect.bisect_left(self.start_seqs, last)]
        lines = [brief(e) for e in sorted(out, key=lambda e: e["seq"])]
        if len(lines) > limit:
            cut = len(lines) - limit
            lines = lines[:limit // 2] + [f"... {cut} more ..."] + lines[-(limit - limit // 2):]
        return lines


def count_lines(path):
    counts = collections.Counter()
    if os.path.exists(path):
        with open(path, errors="replace") as fh:
            for line in fh:
                counts[line.rstrip("\n")] += 1
    return counts


# --- The event log itself ------------------------------------------------------

def check_log(log, expected_starts, out):
    for where, raw in log.damaged:
        out.append(Violation("log-line-parses", where, "not a JSON event line",
                             [raw[:300]]))
    previous = None
    for e in log.events:
        if previous is not None and e["seq"] <= previous["seq"]:
            out.append(Violation("seq-increases", e["_where"],
                                 f"seq {e['seq']} after seq {previous['seq']}",
                                 [f"{previous['_where']}: {brief(previous)}",
                                  f"{e['_where']}: {brief(e)}"]))
        previous = e
    starts = log.kinds["daemon.started"]
    if starts != expected_starts:
        out.append(Violation("daemon-started", "event log",
                             f"{starts} daemon.started events, expected {expected_starts} "
                             "(one per start the harness waited for)"))


def check_actions_paired(log, out):
    """Every action.started has a later outcome for the same (cause, rule,
    index): an action that was cut short is reported interrupted, by the
    shutdown or by the daemon that resumed it."""
    open_starts = {}
    for e in log.events:
        key = (e.get("cause"), e.get("rule"), fields(e).get("index"))
        if e["kind"] == "action.started":
            open_starts[key] = e
        elif e["kind"] in OUTCOMES:
            open_starts.pop(key, None)
    for (cause, rule, index), started in sorted(open_starts.items(),
                                                key=lambda kv: kv[1]["seq"]):
        out.append(Violation("started-has-outcome", f"cause #{cause} rule {rule}[{index}]",
                             "action.started with no later outcome",
                             log.story({cause}, rule)))


# --- Files ---------------------------------------------------------------------

def check_files(layout, log, files, effects, stamps, out, notes):
    """`files`: name -> the sha256 of what the harness wrote."""
    done_names = set(os.listdir(layout.done))
    inbox_names = {n for n in os.listdir(layout.inbox) if not n.startswith(".")}
    for name in sorted(inbox_names | done_names):
        if name not in files:
            out.append(Violation("one-place", name, "a file the harness never wrote "
                                 f"(in {'done/' if name in done_names else 'inbox/'}): "
                                 "moved twice under a numbered name?",
                                 log.story({e["seq"] for e in log.landed.get(name, ())})))
    for name in sorted(files):
        check_file(layout, log, name, files[name], name in done_names, name in inbox_names,
                   effects, stamps, out, notes)


def check_file(layout, log, name, digest, in_done, in_inbox, effects, stamps, out, notes):
    landed = log.landed.get(name, [])
    causes = {e["seq"] for e in landed}

    def story(rule=None):  # the evidence, only read for a violation
        return log.story(causes, rule)

    def violation(what, detail, rule=None):
        out.append(Violation(what, name, detail, story(rule)))

    # Where it ended: done/, whole, and not still in the inbox.
    if in_done and in_inbox:
        violation("one-place", "in both inbox/ and done/")
    elif not in_done:
        violation("one-place", "in inbox/ and not in done/" if in_inbox else
                  "in neither inbox/ nor done/")
    elif file_digest(os.path.join(layout.done, name)) != digest:
        violation("one-place", "done/ holds other content than was written")

    # Landed once per version (the file index), never not at all.
    versions = collections.Counter((fields(e).get("inode"), fields(e).get("size"),
                                    fields(e).get("mtime_ns")) for e in landed)
    if not landed:
        violation("lands-once", "never landed")
    for version, n in versions.items():
        if n > 1:
            acted = ", ".join(f"#{e['seq']}: {acted_on(log, e['seq'])} action(s) started"
                              for e in landed)
            violation("lands-once", f"the same version (inode, size, mtime_ns) = {version} "
                      f"landed {n} times ({acted})")
    if not landed:
        return

    # file-away: a move is idempotent, so it is redone after any interruption
    # and must end ok.
    move = [e for e in log.action_story(causes, "file-away", 0) if e["kind"] in OUTCOMES]
    if not move or move[-1]["kind"] != "action.succeeded":
        violation("move-ends-ok", "its move's last outcome is not action.succeeded"
                  if move else "its move never reported an outcome", "file-away")

    # record: at most once; exactly once unless reported interrupted.
    step_a = log.action_story(causes, "record", 0)
    step_b = log.action_story(causes, "record", 1)
    a_interrupted = check_at_most_once(name, "record", 0, step_a,
                                       effects[f"A {name}"], lambda: story("record"), out,
                                       notes)
    b_lines = effects[f"B {name}"]
    a_outcomes = [e for e in step_a if e["kind"] in OUTCOMES]
    if a_outcomes and not a_interrupted and a_outcomes[-1]["kind"] == "action.succeeded":
        check_at_most_once(name, "record", 1, step_b, b_lines, lambda: story("record"), out,
                           notes)
    elif b_lines or step_b:
        # The plan stopped at its interrupted (or failed) step: the next one never runs.
        violation("stops-after-interrupted", "record[1] ran although record[0] was "
                  f"{'reported interrupted' if a_interrupted else 'not ok'} "
                  f"({b_lines} line(s))", "record")

    # stamp (on_interrupt = "rerun"): at least once, and at most once more than
    # the interruptions reported.
    step_s = log.action_story(causes, "stamp", 0)
    s_outcomes = [e for e in step_s if e["kind"] in OUTCOMES]
    s_lines = stamps[name]
    reruns = sum(1 for e in s_outcomes if is_interrupted(e))
    if not s_outcomes:
        violation("rerun-ends-ok", "stamp never reported an outcome", "stamp")
    elif is_interrupted(s_outcomes[-1]):
        violation("rerun-ends-ok", "stamp's last outcome is interrupted: it was not run again",
                  "stamp")
    elif s_outcomes[-1]["kind"] == "action.succeeded" and s_lines < 1:
        violation("rerun-ends-ok", "stamp succeeded but wrote no line", "stamp")
    elif s_outcomes[-1]["kind"] != "action.succeeded":
        notes.append(f"fault: {name}: stamp failed: {brief(s_outcomes[-1])}")
    if s_lines > 1 + reruns:
        violation("rerun-bounded", f"stamp ran {s_lines} times, with {reruns} "
                  "interruption(s) reported (at most one run more than reported)", "stamp")


def acted_on(log, cause):
    return sum(1 for e in log.by_cause.get(cause, ()) if e["kind"] == "action.started")


def check_at_most_once(subject, rule, index, steps, lines, story, out, notes):
    """A step that must not run twice: `lines` is how many times its effect
    happened; `story()` the evidence. Returns whether it was reported
    interrupted."""
    outcomes = [e for e in steps if e["kind"] in OUTCOMES]
    interrupted = any(is_interrupted(e) for e in outcomes)
    where = f"{rule}[{index}]"
    if lines > 1:
        out.append(Violation("at-most-once", subject, f"{where} ran {lines} times", story()))
    elif not outcomes:
        out.append(Violation("has-outcome", subject, f"{where} never reported an outcome",
                             story()))
    elif interrupted:
        pass  # its effect may or may not have happened: 0 or 1 line
    elif outcomes[-1]["kind"] == "action.succeeded":
        if lines != 1:
            out.append(Violation("exactly-once", subject,
                                 f"{where} succeeded but its line appears {lines} times",
                                 story()))
    else:
        notes.append(f"fault: {subject}: {where} failed: {brief(outcomes[-1])}")
    return interrupted


def file_digest(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# --- Notifications ---------------------------------------------------------------

def check_pings(log, sent, pings, timeline, out, notes):
    """`sent`: n -> (exit code, spooled, stderr, began, ended) of `agentwatch
    notify`; `timeline`: the daemon's starts and kills, for the evidence.
    A message is delivered once, whether it reached the daemon through the
    socket, the spool or both (docs/notify.md, "Exactly once"), and its
    reaction runs exactly once unless interrupted."""
    delivered = collections.defaultdict(list)
    for e in log.events:
        if e["kind"] == "user.crash-ping":
            delivered[fields(e).get("n")].append(e)
    for n in sorted(set(delivered) - set(sent), key=str):
        out.append(Violation("notify-once", f"notification n={n}", "delivered but never sent",
                             [brief(e) for e in delivered[n]]))
    for n in sorted(sent):
        code, spooled, err, began, ended = sent[n]
        events = delivered.get(n, [])
        causes = {e["seq"] for e in events}

        def story(causes=causes):
            return log.story(causes)

        subject = f"notification n={n}" + (" (spooled)" if spooled else "")
        if code != 0:
            notes.append(f"fault: {subject}: agentwatch notify exited {code}: {err.strip()}")
        if not events:
            if code == 0:
                out.append(Violation("notify-delivered", subject,
                                     "agentwatch notify exited 0 but no event was logged"
                                     + when_killed(timeline, began, ended),
                                     around(timeline, began, ended,
                                            "agentwatch notify ran (exit 0, "
                                            + ("spooled)" if spooled else "not spooled)"))))
            continue
        if len(events) > 1:
            out.append(Violation("notify-once", subject,
                                 f"delivered {len(events)} times", story()))
            continue
        steps = log.action_story(causes, "ping", 0)
        check_at_most_once(subject, "ping", 0, steps, pings[str(n)], story, out, notes)


def when_killed(timeline, began, ended):
    """When the daemon that was up as a client began was SIGKILLed, relative
    to the client's call."""
    kills = [t for t, what, _ in timeline if what == "SIGKILL" and t >= began]
    if not kills:
        return ""
    if kills[0] <= ended:
        return " (the daemon was SIGKILLed while the client waited for its reply)"
    return (f" (the daemon was SIGKILLed {1000 * (kills[0] - ended):.0f} ms after the client "
            "returned, before it had logged the message)")


def around(timeline, began, ended, call):
    """The daemon's life around a client's call, as evidence: from the
    daemon's last start before `began` to the first thing after `ended`."""
    starts = [i for i, (t, what, _) in enumerate(timeline) if t <= began and what == "started"]
    first = starts[-1] if starts else 0
    later = [i for i, (t, _, _) in enumerate(timeline) if t > ended]
    last = later[0] if later else len(timeline) - 1
    lines = [(t, f"t={t:.3f}s daemon pid {pid}: {what}")
             for t, what, pid in timeline[first:last + 1]]
    lines.append((began, f"t={began:.3f}s..{ended:.3f}s {call}"))
    return [text for _, text in sorted(lines)]


# --- Workers -------------------------------------------------------------------------

def worker_lines(layout, name):
    path = layout.worker_log(name)
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [line.split() for line in fh if line.strip()]


def check_workers(layout, log, timeline, out):
    """Never two copies of a worker at once: a copy that found the lock held
    wrote "dup PID" and exited."""
    for name, _, _ in WORKERS:
        about = [e for e in log.events if e.get("entity") == name and "pid" in fields(e)]
        # The copies started while another held the lock, by the holder: one
        # violation each time a daemon lost track of a running copy.
        dups = collections.defaultdict(list)
        holder = None  # the last copy that got the lock
        for words in worker_lines(layout, name):
            if words[0] == "start":
                holder = int(words[1])
            elif words[0] == "dup":
                dups[holder].append(int(words[1]))
        for holder, copies in dups.items():
            story = [e for e in about if fields(e)["pid"] in {holder, copies[0]}]
            more = f" (and {len(copies) - 1} more after it)" if len(copies) > 1 else ""
            out.append(Violation("one-copy", f"worker {name}",
                                 f"pid {copies[0]}{more} started while pid {holder} still ran "
                                 "and held the lock",
                                 copies_story(log, story) +
                                 lifetimes(log, timeline, story, holder)))


def daemon_of(log, e):
    """The daemon.started event of the daemon that logged `e`."""
    i = bisect.bisect_left(log.start_seqs, e["seq"])
    return log.starts[i - 1] if i > 0 else None


def lifetimes(log, timeline, story, pid):
    """How long the daemon that started worker copy `pid` lived after its
    daemon.started, and how it ended (from the harness's timeline)."""
    started = [e for e in story if e["kind"] == "worker.started" and fields(e)["pid"] == pid]
    daemon = daemon_of(log, started[0]) if started else None
    if daemon is None:
        return []
    daemon_pid = fields(daemon).get("pid")
    times = {what: t for t, what, p in timeline if p == daemon_pid}
    for how in ("SIGKILL", "SIGTERM"):
        if "started" in times and how in times:
            ms = (times[how] - times["started"]) * 1000
            return [f"daemon pid {daemon_pid}, which started pid {pid}, got {how} {ms:.0f} ms "
                    "after the harness saw its daemon.started"]
    return []


def copies_story(log, story):
    """The events about the copies, with the starts of the daemons from the
    one that logged the first to the one after the last: who started each
    copy, and which daemon lost track of it."""
    if not story:
        return []
    first, last = story[0]["seq"], story[-1]["seq"]
    lo = max(0, bisect.bisect_left(log.start_seqs, first) - 1)
    hi = bisect.bisect_right(log.start_seqs, last) + 1
    merged = sorted(story + log.starts[lo:hi], key=lambda e: e["seq"])
    return [brief(e) for e in merged]


def check_workers_stopped(layout, out):
    """None left running once the final `run --stop-workers` stopped: a copy
    still holding its lock is one the daemon lost track of. (Run at once,
    before the harness kills what is left.)"""
    for name, _, _ in WORKERS:
        holder = lock_holder(layout.worker_lock(name))
        if holder:
            out.append(Violation("stopped-workers", f"worker {name}",
                                 "still running after the daemon stopped with --stop-workers",
                                 [holder]))


def lock_holder(path):
    """None when nothing holds the worker's lock, else who does (from
    /proc/locks), after a moment for a stopped group to finish dying."""
    if not os.path.exists(path):
        return None
    for _ in range(10):
        with open(path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_UN)
                return None
            except BlockingIOError:
                pass
        time.sleep(0.1)
    inode = os.stat(path).st_ino
    with open("/proc/locks") as fh:
        held = [line.strip() for line in fh if f":{inode} " in line]
    return "lock held: " + "; ".join(held)


def worker_starts(layout):
    return {name: sum(1 for w in worker_lines(layout, name) if w[0] == "start")
            for name, _, _ in WORKERS}


def check_settled(layout, out):
    left = open_intents(layout.intents)
    if left:
        out.append(Violation("settles", "intent log",
                             f"{len(left)} intent(s) still open after the final run: "
                             + ", ".join(sorted(left, key=int)[:20])))
