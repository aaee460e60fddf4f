#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol against a running `callsim serve`.

Opens the page, waits for the first chart, moves the dial-rate slider with the keyboard, waits for
the chart to change, checks the "copy as command" line, and takes a screenshot. Fails on any page
error. Python standard library only: Chromium speaks the protocol over a pipe
(--remote-debugging-pipe: it reads NUL-terminated JSON messages on fd 3 and writes them on fd 4),
so no WebSocket client is needed.

Usage: serve-browser-check.py CHROMIUM URL SCREENSHOT.png [--negative-control]

With --negative-control the slider's value is changed by script without the input event a user's
key press fires, so the page never re-runs: the check must then fail ("timed out waiting for the
result after moving the slider"), which shows that it can.
"""

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

chrome, url, shot = sys.argv[1:4]
negative = "--negative-control" in sys.argv[4:]
profile = tempfile.mkdtemp(prefix="callsim-chrome-")
deadline = time.monotonic() + 120
proc = None


def cleanup():
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    shutil.rmtree(profile, ignore_errors=True)


def fail(message):
    print("serve-browser-check: " + message, file=sys.stderr)
    cleanup()
    sys.exit(1)


# fd 3 in the child reads what we write to `to_chrome`; fd 4 in the child writes to `from_chrome`.
child_in, to_chrome = os.pipe()
from_chrome, child_out = os.pipe()


def wire_fds():
    # Move both ends out of the way first, so that neither dup2 overwrites the other.
    high_in = fcntl.fcntl(child_in, fcntl.F_DUPFD, 10)
    high_out = fcntl.fcntl(child_out, fcntl.F_DUPFD, 10)
    os.dup2(high_in, 3)
    os.dup2(high_out, 4)


proc = subprocess.Popen(
    [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
     "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    pass_fds=(3, 4, child_in, child_out), preexec_fn=wire_fds)
os.close(child_in)
os.close(child_out)
reader = os.fdopen(from_chrome, "rb", buffering=0)
buffered = b""
next_id = 1
errors = []


def read_message():
    """The next message from Chromium (blocking), or a failure if the browser went away."""
    global buffered
    while b"\0" not in buffered:
        if time.monotonic() > deadline:
            fail("gave up after 120 s")
        chunk = reader.read(65536)
        if not chunk:
            fail("chromium closed the DevTools pipe (exit %s)" % proc.poll())
        buffered += chunk
    raw, buffered = buffered.split(b"\0", 1)
    return json.loads(raw)


def note_event(m):
    method = m.get("method")
    if method == "Runtime.exceptionThrown":
        d = m["params"]["exceptionDetails"]
        errors.append(str(d.get("exception", {}).get("description") or d.get("text")))
    elif method == "Runtime.consoleAPICalled" and m["params"]["type"] == "error":
        errors.append(" ".join(str(a.get("value")) for a in m["params"]["args"]))


def send(method, params=None, session=None):
    global next_id
    mid = next_id
    next_id += 1
    msg = {"id": mid, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    os.write(to_chrome, json.dumps(msg).encode() + b"\0")
    while True:
        m = read_message()
        note_event(m)
        if m.get("id") == mid:
            if "error" in m:
                fail("%s: %s" % (method, json.dumps(m["error"])))
            return m.get("result", {})


target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]


def s(method, params=None):
    return send(method, params, session)


def evaluate(expr, while_loading=False):
    """The value of `expr` in the page. A script error fails the check, except while the page
    is still loading (`while_loading`: `document.body` may not exist yet), when it means "not
    yet"."""
    r = s("Runtime.evaluate", {"expression": expr, "returnByValue": True})
    if "exceptionDetails" in r:
        if while_loading:
            return None
        fail("script error in %r: %s" % (expr, r["exceptionDetails"].get("text")))
    return r["result"].get("value")


def wait_for(expr, what, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = evaluate(expr, while_loading=True)
        if v:
            return v
        if errors:
            fail("page error: " + "; ".join(errors))
        time.sleep(0.05)
    fail("timed out waiting for " + what)


s("Runtime.enable")
s("Page.enable")
s("Emulation.setDeviceMetricsOverride",
  {"width": 1280, "height": 1500, "deviceScaleFactor": 1, "mobile": False})
s("Page.navigate", {"url": url})

# The chart's data: the tooltips of its points.
fingerprint = ("(() => { const f = document.getElementById('chart-queue'); return f ? "
               "Array.from(f.querySelectorAll('title')).map(t => t.textContent).join('|') : ''; })()")
t0 = time.monotonic()
wait_for("document.body.dataset.state === 'done' && document.body.dataset.runs === '1'",
         "the first result", 60)
first = evaluate(fingerprint)
if not first:
    fail("the first result drew no queue chart")
print("serve-browser-check: first result after %d ms" % ((time.monotonic() - t0) * 1000))

# Move the control as a user would: focus the slider, press the left arrow five times.
slider = "document.getElementById('lever-carriers.carrier.rate')"
if not evaluate("!!" + slider):
    fail("no dial-rate slider on the page")
before = evaluate(slider + ".value")
if negative:
    evaluate(slider + ".value = String(Number(%s.value) - 5 * Number(%s.step || 1))" % (slider, slider))
else:
    evaluate(slider + ".focus()")
    for _ in range(5):
        for kind in ("keyDown", "keyUp"):
            s("Input.dispatchKeyEvent", {"type": kind, "key": "ArrowLeft", "code": "ArrowLeft",
                                         "windowsVirtualKeyCode": 37})
after = evaluate(slider + ".value")
if after == before:
    fail("the slider did not move (%s)" % before)
t1 = time.monotonic()
wait_for("document.body.dataset.state === 'done' && document.body.dataset.runs === '2'",
         "the result after moving the slider", 5 if negative else 60)
second = evaluate(fingerprint)
if second == first:
    fail("the chart did not change after the dial rate moved from %s to %s" % (before, after))
print("serve-browser-check: slider %s/s -> %s/s; chart changed %d ms later"
      % (before, after, (time.monotonic() - t1) * 1000))
cmd = evaluate("document.getElementById('cmd').textContent")
if ("--set carriers.carrier.rate=%s/s" % after) not in cmd:
    fail("the command line does not show the new value: " + cmd)
print("serve-browser-check: command: " + cmd)
if errors:
    fail("page errors: " + "; ".join(errors))
data = s("Page.captureScreenshot", {"format": "png"})["data"]
with open(shot, "wb") as f:
    f.write(base64.b64decode(data))
print("serve-browser-check: screenshot " + shot)
cleanup()
print("serve-browser-check ok")
