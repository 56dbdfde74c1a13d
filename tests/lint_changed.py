#!/usr/bin/env python3
"""clang-format and clang-tidy over the C++ files the last commits changed.

Run by `meson test` (suite "lint", the normal build only), so CI checks what
just landed without the eight minutes a full `./dev lint` takes:

  lint_changed.py SOURCE_ROOT BUILD_DIR

The commits are those since AW_LINT_BASE (default HEAD~5; in a clone without
that much history, HEAD's own). At most AW_LINT_MAX_FILES (default 60) files are
tidied, in path order. Writes one GoogleTest-style XML case per file to
the directory GTEST_OUTPUT names (as `./dev test` sets it), so tests/summarize.py
counts them, and exits 1 when any file fails.
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from xml.sax.saxutils import escape, quoteattr


def git(root: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True)


def changed_files(root: str) -> list[str]:
    base = os.environ.get("AW_LINT_BASE", "HEAD~5")
    r = git(root, "diff", "--name-only", "--diff-filter=AMR", base, "HEAD")
    if r.returncode != 0:  # a shallow clone: what the last commit touched
        r = git(root, "show", "--name-only", "--format=", "--diff-filter=AMR", "HEAD")
    if r.returncode != 0:
        return []
    return [f for f in r.stdout.split() if f.endswith((".cc", ".h"))
            and not f.startswith("subprojects/") and os.path.exists(os.path.join(root, f))]


def check(root: str, build: str, path: str, compiled: set[str]) -> str:
    """Returns the problems found in `path` ("" when clean)."""
    full = os.path.join(root, path)
    problems = []
    fmt = subprocess.run(["clang-format", "--dry-run", "--Werror", full],
                         capture_output=True, text=True)
    if fmt.returncode != 0:
        problems.append("clang-format: not formatted (run ./dev format)\n" + fmt.stderr[-2000:])
    if path.endswith(".cc") and os.path.realpath(full) in compiled:
        tidy = subprocess.run(["clang-tidy", "-p", build, "--quiet", full],
                              capture_output=True, text=True)
        if tidy.returncode != 0:
            problems.append("clang-tidy:\n" + (tidy.stdout + tidy.stderr)[-4000:])
    return "\n".join(problems)


def main() -> int:
    root, build = sys.argv[1], sys.argv[2]
    limit = int(os.environ.get("AW_LINT_MAX_FILES", "60"))
    with open(os.path.join(build, "compile_commands.json")) as fh:
        compiled = {os.path.realpath(os.path.join(e["directory"], e["file"]))
                    for e in json.load(fh)}
    files = changed_files(root)[:limit]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda f: (f, check(root, build, f, compiled)), files))

    failed = [(f, p) for f, p in results if p]
    for f, p in failed:
        print(f"{f}:\n{p}\n")
    print(f"lint_changed: {len(files)} files checked, {len(failed)} with problems")

    out = os.environ.get("GTEST_OUTPUT", "")
    if out.startswith("xml:"):
        out_dir = out[4:]
        os.makedirs(out_dir, exist_ok=True)
        cases = []
        for f, p in results:
            body = f"<failure message={quoteattr(p.splitlines()[0])}>{escape(p)}</failure>" if p else ""
            cases.append(f'  <testcase classname="lint" name={quoteattr(f)}>{body}</testcase>')
        xml = (f'<?xml version="1.0"?>\n<testsuites tests="{len(results)}" '
               f'failures="{len(failed)}">\n<testsuite name="lint">\n'
               + "\n".join(cases) + "\n</testsuite>\n</testsuites>\n")
        # summarize.py pairs an XML file with the test's command by basename.
        with open(os.path.join(out_dir, os.path.basename(sys.argv[0]) + ".xml"), "w") as fh:
            fh.write(xml)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
