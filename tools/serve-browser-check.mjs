// Drives headless Chromium over the DevTools protocol against a running `callsim serve`:
// opens the page, waits for the first chart, moves the dial-rate slider with the keyboard,
// waits for the chart to change, checks the "copy as command" line, and takes a screenshot.
// Fails on any page error. Usage: node serve-browser-check.mjs CHROMIUM URL SCREENSHOT.png
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [chrome, url, shot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "callsim-chrome-"));
const proc = spawn(chrome, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
  "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank"], { stdio: ["ignore", "ignore", "pipe"] });
const fail = (m) => { console.error("serve-browser-check: " + m); cleanup(); process.exit(1); };
function cleanup() { try { proc.kill("SIGKILL"); } catch (e) {} try { rmSync(profile, { recursive: true, force: true }); } catch (e) {} }
const overall = setTimeout(() => fail("gave up after 120 s"), 120000);

const wsUrl = await new Promise((resolve) => {
  let buf = "";
  proc.stderr.on("data", (d) => {
    buf += d;
    const m = buf.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m) resolve(m[1]);
  });
});
const ws = new WebSocket(wsUrl);
await new Promise((r, j) => { ws.onopen = r; ws.onerror = () => j(new Error("no DevTools connection")); });
let nextId = 1;
const pending = new Map();
const errors = [];
ws.onmessage = (ev) => {
  const m = JSON.parse(ev.data);
  if (m.id && pending.has(m.id)) { const p = pending.get(m.id); pending.delete(m.id); m.error ? p.j(new Error(JSON.stringify(m.error))) : p.r(m.result); }
  if (m.method === "Runtime.exceptionThrown") errors.push(JSON.stringify(m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text));
  if (m.method === "Runtime.consoleAPICalled" && m.params.type === "error") errors.push(m.params.args.map((a) => a.value).join(" "));
};
const send = (method, params = {}, sessionId) => new Promise((r, j) => {
  const id = nextId++;
  pending.set(id, { r, j });
  ws.send(JSON.stringify({ id, method, params, sessionId }));
});

const { targetId } = await send("Target.createTarget", { url: "about:blank" });
const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
const s = (method, params) => send(method, params, sessionId);
await s("Runtime.enable");
await s("Page.enable");
await s("Emulation.setDeviceMetricsOverride", { width: 1280, height: 1500, deviceScaleFactor: 1, mobile: false });
await s("Page.navigate", { url });
const evaluate = async (expr) => (await s("Runtime.evaluate", { expression: expr, returnByValue: true })).result.value;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(expr, what) {
  for (let i = 0; i < 1200; i++) {
    const v = await evaluate(expr);
    if (v) return v;
    if (errors.length) fail("page error: " + errors.join("; "));
    await sleep(50);
  }
  fail("timed out waiting for " + what);
}
// The chart's data: the tooltips of its points.
const fingerprint = `(() => { const f = document.getElementById('chart-queue'); return f ? Array.from(f.querySelectorAll('title')).map(t => t.textContent).join('|') : ''; })()`;

const t0 = Date.now();
await waitFor("document.body.dataset.state === 'done' && document.body.dataset.runs === '1'", "the first result");
const first = await evaluate(fingerprint);
if (!first) fail("the first result drew no queue chart");
console.log(`serve-browser-check: first result after ${Date.now() - t0} ms`);

// Move the control as a user would: focus the slider, press the left arrow five times.
const slider = "document.getElementById('lever-carriers.carrier.rate')";
if (!(await evaluate(`!!${slider}`))) fail("no dial-rate slider on the page");
const before = await evaluate(`${slider}.value`);
await evaluate(`${slider}.focus()`);
for (let i = 0; i < 5; i++) {
  await s("Input.dispatchKeyEvent", { type: "keyDown", key: "ArrowLeft", code: "ArrowLeft", windowsVirtualKeyCode: 37 });
  await s("Input.dispatchKeyEvent", { type: "keyUp", key: "ArrowLeft", code: "ArrowLeft", windowsVirtualKeyCode: 37 });
}
const after = await evaluate(`${slider}.value`);
if (after === before) fail(`the slider did not move (${before})`);
const t1 = Date.now();
await waitFor("document.body.dataset.state === 'done' && document.body.dataset.runs === '2'", "the result after moving the slider");
const second = await evaluate(fingerprint);
if (second === first) fail("the chart did not change after the dial rate moved from " + before + " to " + after);
console.log(`serve-browser-check: slider ${before}/s -> ${after}/s; chart changed ${Date.now() - t1} ms later`);
const cmd = await evaluate("document.getElementById('cmd').textContent");
if (!cmd.includes(`--set carriers.carrier.rate=${after}/s`)) fail("the command line does not show the new value: " + cmd);
console.log("serve-browser-check: command: " + cmd);
if (errors.length) fail("page errors: " + errors.join("; "));
const { data } = await s("Page.captureScreenshot", { format: "png" });
writeFileSync(shot, Buffer.from(data, "base64"));
console.log("serve-browser-check: screenshot " + shot);
clearTimeout(overall);
ws.close();
cleanup();
console.log("serve-browser-check ok");
process.exit(0);
