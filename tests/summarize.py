#!/usr/bin/env python3
"""Totals GoogleTest cases across meson test runs and prints 'N passed, N failed'.

Each build dir holds test-results/*.xml (GTEST_OUTPUT, or tests/fuzz/run_fuzz.py's
one case per fuzz target) and meson-logs/testlog.json.
A test binary that failed without writing XML (a crash, a sanitizer abort, a
timeout) counts as one failed case, so nothing can pass silently. Exits 1 when
anything failed or when no test ran at all.
"""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET


def summarize(build_dir):
    passed = failed = 0
    notes = []
    xml_cases = {}
    for path in glob.glob(os.path.join(build_dir, "test-results", "*.xml")):
        exe = os.path.splitext(os.path.basename(path))[0]
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        p = f = 0
        for case in root.iter("testcase"):
            if case.get("status") == "notrun" or case.get("result") == "skipped":
                continue
            if case.find("failure") is not None:
                f += 1
                notes.append(f"{build_dir}: FAILED {case.get('classname')}.{case.get('name')}")
            else:
                p += 1
        xml_cases[exe] = (p, f)
    log = os.path.join(build_dir, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        return 0, 1, [f"{build_dir}: no meson test log (suite did not run)"]
    with open(log) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            cmd = t.get("command") or t.get("cmd") or [t["name"]]
            exe = os.path.basename(cmd[0])
            # A test run through a wrapper (tests/fuzz/run_fuzz.py) writes its
            # XML under the test's own name.
            if exe not in xml_cases:
                exe = t["name"].rsplit(" / ", 1)[-1]
            p, f = xml_cases.get(exe, (0, 0))
            passed += p
            failed += f
            if t.get("result") != "OK" and f == 0:
                failed += 1
                notes.append(f"{build_dir}: test binary {t['name']} ended {t.get('result')} "
                             "without a failed case (crash, sanitizer report or timeout)")
    return passed, failed, notes


def main():
    total_p = total_f = 0
    for d in sys.argv[1:]:
        p, f, notes = summarize(d)
        for n in notes:
            print(n)
        print(f"{d}: {p} passed, {f} failed")
        total_p += p
        total_f += f
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f or total_p == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
