#!/usr/bin/env python3
"""The cost of an agent hook call to the agent: run time of the hook process.

    tests/bench/hook_client_bench.py BUILD_DIR [-n N] [--json]

Runs each client N times with a Claude Code Notification payload on stdin,
as an agent does (spawn, write stdin, wait), and prints p50/p99 of the wall
time from spawn to exit and of the CPU time the child used (user + system,
from wait4: less sensitive to a loaded machine than wall time):

  - agentwatch-hook (the small client the installed hooks run),
  - `agentwatch hook` (the main binary, which execs agentwatch-hook),
  - `agentwatch notify` with the same fields (the tmux hooks' client),
  - /bin/true (the floor: what any process start costs on this machine),

each with the daemon up (it is started here: private dirs, HTTP off) and
with it down (the message is spooled). Exits 1 if a client exits non-zero
or the daemon does not log the messages.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PAYLOAD = (b'{"session_id":"bench","transcript_path":"/tmp/t.jsonl","cwd":"/tmp",'
           b'"hook_event_name":"Notification","message":"Claude needs your permission to use Bash",'
           b'"notification_type":"permission_prompt"}')


def measure(argv, n, stdin=b""):
    walls, cpus = [], []
    for _ in range(n):
        r, w = os.pipe()
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
        os.close(r)
        if stdin:
            os.write(w, stdin)
        os.close(w)
        _, status, ru = os.wait4(pid, 0)
        walls.append((time.perf_counter_ns() - t0) / 1000)
        cpus.append((ru.ru_utime + ru.ru_stime) * 1e6)
        if status != 0:
            sys.exit(f"{argv}: exit status {status}")
    walls.sort()
    cpus.sort()

    def q(a, p):
        return a[min(len(a) - 1, int(len(a) * p))]
    return {"wall_p50_us": q(walls, .5), "wall_p99_us": q(walls, .99),
            "cpu_p50_us": q(cpus, .5), "cpu_p99_us": q(cpus, .99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    agentwatch = os.path.abspath(os.path.join(a.build_dir, "agentwatch"))
    hook = os.path.abspath(os.path.join(a.build_dir, "src/hooks/agentwatch-hook"))
    tmp = tempfile.mkdtemp(prefix="aw-hook-bench-")
    run_dir = os.path.join(tmp, "runtime")
    os.mkdir(run_dir, 0o700)
    flags = ["--config", os.path.join(tmp, "agentwatch.toml"), "--state-dir",
             os.path.join(tmp, "state"), "--runtime-dir", run_dir]
    clients = {
        "agentwatch-hook": ([hook, "--runtime-dir", run_dir, "claude", "Notification"], PAYLOAD),
        "agentwatch hook": ([agentwatch, "--runtime-dir", run_dir, "hook", "claude",
                             "Notification"], PAYLOAD),
        "agentwatch notify": ([agentwatch, "--runtime-dir", run_dir, "notify", "-q", "agent.hook",
                               "agent=claude", "event=Notification",
                               "notification_type=permission_prompt"], b""),
        "/bin/true": (["/bin/true"], b""),
    }
    results = {}
    daemon = subprocess.Popen([agentwatch] + flags + ["run", "--http", ""],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = os.path.join(run_dir, "notify.sock")
        deadline = time.time() + 20
        while not os.path.exists(sock):
            if time.time() > deadline or daemon.poll() is not None:
                sys.exit("the daemon did not start")
            time.sleep(0.05)
        for name, (argv, stdin) in clients.items():
            results[(name, "daemon up")] = measure(argv, a.n, stdin)
    finally:
        daemon.terminate()
        daemon.wait()
    for name, (argv, stdin) in clients.items():
        if name != "/bin/true":
            results[(name, "daemon down (spooled)")] = measure(argv, a.n, stdin)
    shutil.rmtree(tmp)
    if a.json:
        print(json.dumps([dict(client=k[0], daemon=k[1], **v) for k, v in results.items()]))
        return
    print(f"hook client run time, {a.n} runs each (us)")
    print(f"{'client':20} {'daemon':22} {'wall p50':>9} {'wall p99':>9} {'cpu p50':>8} {'cpu p99':>8}")
    for (name, state), r in results.items():
        print(f"{name:20} {state:22} {r['wall_p50_us']:9.0f} {r['wall_p99_us']:9.0f} "
              f"{r['cpu_p50_us']:8.0f} {r['cpu_p99_us']:8.0f}")


if __name__ == "__main__":
    main()
