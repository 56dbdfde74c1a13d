#!/usr/bin/env python3
"""The dashboard in a real browser (docs/http.md, "The dashboard").

Starts the real agentwatch daemon in a temp dir, opens GET / in headless
Chromium (Debian's, driven over the DevTools protocol on a pipe: no websocket
library, no npm), and checks that the page shows what the daemon did: the
executions it loaded at start, then one that happens while it is open,
arriving live over its EventSource (the page records the last event seq it
received in body[data-last-seq], and adds a feed row "#SEQ"). Keeps a
screenshot as a test artefact (--artefact-dir) and writes a JUnit case
(--junit-dir) that tests/summarize.py counts.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", "--window-size=1280,1000",
]


class Devtools:
    """Chrome DevTools protocol over --remote-debugging-pipe: fd 3 in, fd 4 out,
    each message a JSON object ended by a NUL byte."""

    def __init__(self, chromium, user_data_dir):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        def fds():
            # Runs before subprocess closes the fds not in pass_fds: keep 3 and 4.
            # Through fresh copies first, in case one of ours already is 3 or 4.
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen(
            [chromium] + CHROMIUM_FLAGS + ["--user-data-dir=" + user_data_dir, "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def call(self, method, params=None, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its devtools pipe")
            self.buf += chunk
        raise RuntimeError(f"{method}: no answer in {timeout} s")

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return r.get("result", {}).get("value")

    def wait(self, expression, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"the page never made true: {expression}")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        self.proc.kill()
        self.proc.wait()


def events(state_dir):
    try:
        with open(os.path.join(state_dir, "events.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait_event(state_dir, pred, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(state_dir):
            if pred(e):
                return e
        time.sleep(0.05)
    raise AssertionError("the daemon never logged the expected event")


def land(results, name):
    tmp = os.path.join(results, "." + name + ".tmp")
    with open(tmp, "w") as f:
        f.write('{"ok": true}')
    os.rename(tmp, os.path.join(results, name))


def run(binary, chromium, artefact_dir):
    base = tempfile.mkdtemp(prefix="aw-browser-")
    daemon = browser = None
    try:
        results, state, runtime, config = (os.path.join(base, d) for d in
                                           ("results", "state", "run", "config"))
        for d in (results, config):
            os.makedirs(d)
        with open(os.path.join(config, "agentwatch.toml"), "w") as f:
            f.write(f'[[watch]]\nname = "results"\npath = "{results}"\n')
        flags = ["--config", os.path.join(config, "agentwatch.toml"), "--state-dir", state,
                 "--runtime-dir", runtime]
        daemon = subprocess.Popen([binary] + flags + ["run", "--http", "127.0.0.1:0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = wait_event(state, lambda e: e["kind"] == "daemon.started")
        url = "http://" + started["fields"]["http"] + "/"
        land(results, "before.json")
        wait_event(state, lambda e: e["kind"] == "action.succeeded")

        browser = Devtools(chromium, os.path.join(base, "chromium"))
        browser.open(url)
        browser.wait("document.getElementById('conn').textContent === 'live'")
        browser.wait("document.getElementById('ex-total').textContent === '1'")

        # While the page is open: this one must arrive over the event stream.
        land(results, "live.json")
        live = wait_event(state, lambda e: e["kind"] == "action.succeeded" and
                          e.get("path", "").endswith("live.json"))
        seq = live["seq"]
        browser.wait(f"Number(document.body.dataset.lastSeq) >= {seq}")
        browser.wait("document.getElementById('ex-total').textContent === '2'")
        browser.wait(f"document.getElementById('feed').textContent.includes('#{seq} ')")
        browser.wait("document.getElementById('ex-rate').textContent === '100.0 %'")
        # Entities and workers come from /api/status, refreshed after events.
        browser.wait("document.getElementById('host').textContent.startsWith('pid ')")
        if artefact_dir:
            os.makedirs(artefact_dir, exist_ok=True)
            browser.screenshot(os.path.join(artefact_dir, "dashboard.png"))
        return None
    except Exception as e:  # noqa: BLE001: every failure is the test's failure
        return f"{type(e).__name__}: {e}"
    finally:
        if browser:
            browser.close()
        if daemon:
            daemon.terminate()
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        shutil.rmtree(base, ignore_errors=True)


def write_junit(path, failure, seconds):
    suite = ET.Element("testsuite", name="browser", tests="1", failures="1" if failure else "0")
    case = ET.SubElement(suite, "testcase", classname="browser", name="dashboard",
                         time=f"{seconds:.3f}")
    if failure:
        ET.SubElement(case, "failure", message=failure)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--artefact-dir")
    ap.add_argument("--junit-dir")
    args = ap.parse_args()
    begun = time.monotonic()
    if not os.access(args.chromium, os.X_OK):
        failure = f"no browser at {args.chromium} (./dev test installs Debian's chromium)"
    else:
        failure = run(args.binary, args.chromium, args.artefact_dir)
    if args.junit_dir:
        write_junit(os.path.join(args.junit_dir, "dashboard.xml"), failure,
                    time.monotonic() - begun)
    print(failure or "dashboard: ok")
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
