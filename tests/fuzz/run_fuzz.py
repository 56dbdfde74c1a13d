#!/usr/bin/env python3
"""Runs one libFuzzer target for a while on its seed corpus and says how it went.

Used by `meson test --suite fuzz` (the bounded run CI does through ./dev test)
and by `./dev fuzz` (long runs). Prints one line per run:

    fuzz_rules: ok, 48213 execs in 5 s (9642/s), cov 2210, corpus 9 seeds -> 64 units

and, on a failure, the fuzzer's report and the input it saved. With
--junit-dir it writes DIR/<target>.xml (one test case) for tests/summarize.py.
Exits with the fuzzer's status.

The seeds are only read; what the fuzzer finds goes to --corpus (a temporary
directory unless given), crashes to --artifacts.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET


HERE = os.path.dirname(os.path.abspath(__file__))

# The dictionary of each target (dict/<name>.dict); a target not listed uses
# dict/<target without "fuzz_">.dict when there is one.
DICTS = {
    "fuzz_rules": "toml", "fuzz_config": "toml", "fuzz_toml": "toml",
    "fuzz_notify": "json", "fuzz_control": "json", "fuzz_eventlog_line": "json",
    "fuzz_plan_codec": "json",
}


def default_dict(name):
    path = os.path.join(HERE, "dict", DICTS.get(name, name.removeprefix("fuzz_")) + ".dict")
    return path if os.path.exists(path) else None


def default_env():
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    if "ASAN_SYMBOLIZER_PATH" not in env and not shutil.which("llvm-symbolizer"):
        for cand in ("/usr/lib/llvm-14/bin/llvm-symbolizer", "/usr/bin/llvm-symbolizer-14"):
            if os.path.exists(cand):
                env["ASAN_SYMBOLIZER_PATH"] = cand
                break
    return env


def stat(pattern, text, default=None):
    m = re.findall(pattern, text)
    return int(m[-1]) if m else default


def write_junit(path, name, ok, seconds, summary, output):
    suite = ET.Element("testsuites", tests="1", failures="0" if ok else "1")
    ts = ET.SubElement(suite, "testsuite", name="fuzz", tests="1",
                       failures="0" if ok else "1", time=f"{seconds:.1f}")
    case = ET.SubElement(ts, "testcase", classname="fuzz", name=name,
                         status="run", result="completed", time=f"{seconds:.1f}")
    if not ok:
        fail = ET.SubElement(case, "failure", message=summary)
        fail.text = output[-20000:]
    out = ET.SubElement(case, "system-out")
    out.text = summary
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="the fuzz target executable")
    ap.add_argument("--seeds", help="seed corpus directory, only read "
                    "(default: corpus/<target>/ beside this script)")
    ap.add_argument("--dict", help="libFuzzer dictionary (default: dict/ beside this script)")
    ap.add_argument("--seconds", type=int,
                    default=int(os.environ.get("AW_FUZZ_SECONDS", "5")),
                    help="how long to fuzz (default: $AW_FUZZ_SECONDS or 5)")
    ap.add_argument("--corpus", help="where new inputs go (default: a temporary directory)")
    ap.add_argument("--artifacts", help="where a crashing input is saved "
                    "(default: fuzz-artifacts/<target>/ in the current directory)")
    ap.add_argument("--junit-dir", help="write <target>.xml there")
    ap.add_argument("--timeout", type=int, default=10,
                    help="seconds one input may take before it counts as a hang")
    ap.add_argument("--log", help="keep the fuzzer's whole output in this file")
    args, extra = ap.parse_known_args()
    extra = [a for a in extra if a != "--"]  # the rest goes to libFuzzer (-max_len=512 ...)

    name = os.path.basename(args.target)
    seeds_dir = args.seeds or os.path.join(HERE, "corpus", name)
    dict_path = args.dict or default_dict(name)
    artifacts = os.path.abspath(args.artifacts or os.path.join("fuzz-artifacts", name))
    os.makedirs(artifacts, exist_ok=True)
    tmp = None
    corpus = args.corpus
    if corpus is None:
        tmp = tempfile.mkdtemp(prefix=f"aw-{name}-")
        corpus = tmp
    os.makedirs(corpus, exist_ok=True)

    seeds = len(os.listdir(seeds_dir)) if os.path.isdir(seeds_dir) else 0
    cmd = [args.target, f"-max_total_time={args.seconds}", f"-timeout={args.timeout}",
           "-print_final_stats=1", f"-artifact_prefix={artifacts}/"]
    if dict_path:
        cmd.append(f"-dict={dict_path}")
    cmd += extra
    cmd.append(corpus)
    if seeds:
        cmd.append(seeds_dir)

    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=default_env(), text=True, errors="replace")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - start
    out = proc.stdout
    if args.log:
        with open(args.log, "w") as fh:
            fh.write(out)

    execs = stat(r"stat::number_of_executed_units:\s*(\d+)", out)
    if execs is None:
        execs = stat(r"#(\d+)\s", out, 0)
    cov = stat(r"cov: (\d+)", out, 0)
    units = stat(r"corp: (\d+)/", out, 0)
    ok = proc.returncode == 0
    rate = execs / max(elapsed, 0.001)
    summary = (f"{name}: {'ok' if ok else 'FAILED (exit %d)' % proc.returncode}, "
               f"{execs} execs in {elapsed:.0f} s ({rate:.0f}/s), cov {cov}, "
               f"corpus {seeds} seeds -> {units} units")
    if not ok:
        saved = re.findall(r"Test unit written to (\S+)", out)
        if saved:
            summary += f"; input saved as {saved[-1]}"
            summary += (f" (reproduce: {args.target} {saved[-1]})")
        lines = out.splitlines()
        report = [l for l in lines if not re.match(r"#\d+\s", l)]
        print("\n".join(report[-80:]))
    print(summary, flush=True)
    if args.junit_dir:
        write_junit(os.path.join(args.junit_dir, name + ".xml"), name, ok, elapsed, summary, out)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
