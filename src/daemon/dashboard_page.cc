// The dashboard of `GET /` (docs/http.md, "The dashboard"): one page, no
// external resource (it works offline and under the page's CSP), fed by one
// EventSource on /events. It asks /api/status for the counts the event stream
// does not carry (entities by state, workers by phase) when events arrive, at
// most every two seconds; everything else it counts from the events.
#include "src/daemon/http_api.h"

namespace aw {

const char* const kDashboardHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agentwatch</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline}
header h1{font-size:17px;margin:0}#conn{font-size:12px;opacity:.8}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px;padding:14px}
section{background:#fff;border-radius:6px;padding:12px 14px;box-shadow:0 1px 2px #0002}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#5a6272;margin:0 0 8px}
.big{display:flex;gap:18px;flex-wrap:wrap}.big div{min-width:70px}
.big b{display:block;font-size:22px}.big span{font-size:12px;color:#5a6272}
table{width:100%;border-collapse:collapse;font-size:13px}td{padding:2px 4px;border-bottom:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
#feed{max-height:320px;overflow:auto;font:12px ui-monospace,monospace}
#feed div{padding:2px 0;border-bottom:1px solid #f0f0f0;white-space:nowrap}
.fail{color:#b3261e}.ok{color:#1e7b34}.wide{grid-column:1/-1}
canvas{width:100%;height:140px}
</style></head><body>
<header><h1>agentwatch</h1><span id="host"></span><span id="conn">connecting…</span></header>
<main>
<section><h2>Executions</h2><div class="big">
<div><b id="ex-total">0</b><span>executions</span></div>
<div><b id="ex-rate">–</b><span>success rate</span></div>
<div><b id="ex-mean">–</b><span>mean</span></div>
<div><b id="ex-p95">–</b><span>p95</span></div></div></section>
<section><h2>Entities by state</h2><table id="entities"></table></section>
<section><h2>Workers</h2><table id="workers"></table></section>
<section><h2>Active alerts</h2><table id="alerts"><tr><td>none</td></tr></table></section>
<section><h2>Error categories</h2><table id="categories"></table></section>
<section><h2>Top rules</h2><table id="rules"></table></section>
<section class="wide"><h2>Executions per minute, last hour</h2><canvas id="chart" width="1200" height="140"></canvas></section>
<section class="wide"><h2>Live executions</h2><div id="feed"></div></section>
</main>
<script>
"use strict";
const $ = id => document.getElementById(id);
const state = {total: 0, failed: 0, categories: {}, rules: {}, perMinute: new Map(), lastSeq: 0,
               alerts: new Map()};
function fmtSeconds(s) {
  if (!isFinite(s)) return "–";
  return s < 1 ? (s * 1000).toFixed(0) + " ms" : s.toFixed(2) + " s";
}
function fillTable(el, rows) {
  el.replaceChildren(...rows.map(([k, v, cls]) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td"); a.textContent = k; if (cls) a.className = cls;
    const b = document.createElement("td"); b.textContent = v; b.className = "n";
    tr.append(a, b); return tr;
  }));
  if (!rows.length) el.innerHTML = "<tr><td>none</td></tr>";
}
function largest(obj, n) { return Object.entries(obj).sort((a, b) => b[1] - a[1]).slice(0, n); }
function drawSummary() {
  $("ex-total").textContent = state.total;
  $("ex-rate").textContent = state.total ? (100 * (state.total - state.failed) / state.total).toFixed(1) + " %" : "–";
  fillTable($("categories"), largest(state.categories, 8));
  fillTable($("rules"), largest(state.rules, 8));
  fillTable($("alerts"), [...state.alerts.entries()].map(([k, v]) => [k, v, "fail"]));
  drawChart();
}
function drawChart() {
  const c = $("chart"), g = c.getContext("2d"), now = Math.floor(Date.now() / 60000);
  g.clearRect(0, 0, c.width, c.height);
  let max = 1;
  for (let i = 0; i < 60; i++) max = Math.max(max, (state.perMinute.get(now - 59 + i) || [0, 0])[0]);
  const w = c.width / 60;
  for (let i = 0; i < 60; i++) {
    const [n, f] = state.perMinute.get(now - 59 + i) || [0, 0];
    const h = (c.height - 14) * n / max, hf = (c.height - 14) * f / max;
    g.fillStyle = "#4a78c2"; g.fillRect(i * w + 1, c.height - h, w - 2, h - hf);
    g.fillStyle = "#b3261e"; g.fillRect(i * w + 1, c.height - hf, w - 2, hf);
  }
  g.fillStyle = "#5a6272"; g.font = "11px sans-serif"; g.fillText("max " + max + "/min", 4, 11);
}
function onExecution(e, live) {
  const failed = e.kind === "action.failed";
  state.total++; if (failed) state.failed++;
  const cat = (e.fields && e.fields.category) || "ok";
  state.categories[cat] = (state.categories[cat] || 0) + 1;
  if (e.rule) state.rules[e.rule] = (state.rules[e.rule] || 0) + 1;
  const minute = Math.floor(Date.parse(e.time) / 60000);
  const m = state.perMinute.get(minute) || [0, 0]; m[0]++; if (failed) m[1]++;
  state.perMinute.set(minute, m);
  const row = document.createElement("div");
  row.className = failed ? "fail" : "ok";
  const f = e.fields || {};
  row.textContent = e.time.slice(11, 23) + "  #" + e.seq + "  " + (failed ? "✗ " : "✓ ") +
      (e.rule || "") + "  " + (f.action || "") + (e.entity ? "  @" + e.entity : "") +
      (e.path ? "  " + e.path.split("/").pop() : "") +
      (f.duration_ms !== undefined ? "  " + f.duration_ms + " ms" : "") +
      (failed && f.message ? "  " + f.message : "");
  const feed = $("feed");
  feed.prepend(row);
  while (feed.childElementCount > 200) feed.lastChild.remove();
}
let statusDue = false;
async function refreshStatus() {
  statusDue = false;
  try {
    const s = await (await fetch("/api/status", {cache: "no-store"})).json();
    $("host").textContent = "pid " + s.pid + " · " + (s.rules || "");
    fillTable($("entities"), Object.entries(s.entities || {}).filter(([, n]) => n > 0));
    fillTable($("workers"), Object.entries(s.workers || {}).filter(([, n]) => n > 0));
    // The firing alerts as the daemon knows them (a restart, an alert
    // removed from the config): the events only say what changed since.
    state.alerts = new Map((s.alerts || []).map(a => [a.alert, a.severity]));
    drawSummary();
    if (s.executions) {
      $("ex-mean").textContent = fmtSeconds(s.executions.mean_seconds);
      $("ex-p95").textContent = fmtSeconds(s.executions.p95_seconds);
    }
  } catch (err) { /* the stream's state says why */ }
}
function statusSoon() { if (!statusDue) { statusDue = true; setTimeout(refreshStatus, 2000); } }
async function start() {
  await refreshStatus();
  // The executions the daemon still holds, then everything after them, live.
  let since = 0;
  try {
    const r = await (await fetch("/api/executions?limit=500", {cache: "no-store"})).json();
    r.events.forEach(e => onExecution(e, false));
    since = r.last_seq;
  } catch (err) {}
  drawSummary();
  const es = new EventSource("/events?since=" + since);
  es.onopen = () => { $("conn").textContent = "live"; };
  es.onerror = () => { $("conn").textContent = "reconnecting…"; };
  es.addEventListener("reset", () => { $("conn").textContent = "live (some events were rotated away)"; });
  es.addEventListener("event", m => {
    const e = JSON.parse(m.data);
    state.lastSeq = e.seq;
    document.body.dataset.lastSeq = e.seq;
    if (e.kind === "action.succeeded" || e.kind === "action.failed") onExecution(e, true);
    const f = e.fields || {};
    if (e.kind === "alert.raised") state.alerts.set(f.alert, f.severity || "");
    if (e.kind === "alert.resolved") state.alerts.delete(f.alert);
    drawSummary();
    statusSoon();
  });
  setInterval(drawChart, 30000);
}
start();
</script></body></html>
)HTML";

}  // namespace aw
