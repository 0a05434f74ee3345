//! `tally show --format html`: one self-contained page (no network, no
//! CDN, no external file) that draws a run's timeline in the browser: a
//! lane per function, each delivery an arrow from its source's lane to its
//! target's at its virtual time, decisions, timeouts, refusals, deletions
//! and injected faults as marks on their lane, a request filter, and the
//! JSON of any event shown on a click. The run's data is embedded as JSON;
//! the drawing is the page's own script, so what a browser shows is what
//! the data says.
// Only `show`, which needs the simulator, draws a page.
#![cfg_attr(not(madsim), allow(dead_code))]

use tally_sim::timeline::Entry;

/// Text safe inside HTML elements and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for `entries` (a timeline already narrowed as asked).
pub fn page(title: &str, mix: &str, reproducer: &str, entries: &[Entry]) -> String {
    let data = serde_json::to_string(entries).unwrap_or_else(|_| "[]".to_owned());
    // Inside <script>, only `</` can end the element early; JSON allows
    // `<\/` for it.
    let data = data.replace("</", "<\\/");
    TEMPLATE
        .replace("{{title}}", &escape(title))
        .replace("{{mix}}", &escape(mix))
        .replace("{{reproducer}}", &escape(reproducer))
        .replace("{{data}}", &data)
}

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{{title}}</title>
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  .meta { color: #555; font-family: monospace; font-size: 11px; word-break: break-all; }
  #controls { margin: 10px 0; }
  #chart { overflow-x: auto; border: 1px solid #ddd; }
  .lane { stroke: #ccc; }
  .lane-label { font-size: 11px; fill: #333; }
  .tick { font-size: 9px; fill: #888; }
  .event { cursor: pointer; }
  .delivery line { stroke: #3465a4; stroke-width: 1.2; }
  .delivery.vote line { stroke: #4e9a06; }
  .delivery.approved line, .delivery.denied line { stroke: #5c3566; stroke-width: 2; }
  .decision circle { fill: #2e7d32; stroke: #000; }
  .decision.denied circle { fill: #c62828; }
  .decision.timeout circle { fill: #f9a825; }
  .refusal rect { fill: #ef6c00; }
  .deletion path { fill: #000; }
  .fault path { fill: #d50000; }
  .event.selected line, .event.selected circle, .event.selected rect, .event.selected path { stroke: #ff00ff; stroke-width: 3; }
  .hidden { display: none; }
  #detail { background: #f6f6f6; padding: 8px; white-space: pre-wrap; font-size: 11px; min-height: 3em; }
  .legend span { margin-right: 14px; }
</style>
</head>
<body>
<h1>{{title}}</h1>
<div class="meta">fault mix: {{mix}}</div>
<div class="meta">reproduce with: {{reproducer}}</div>
<div id="controls">
  <label>request <select id="request"><option value="">all requests</option></select></label>
  <span id="count"></span>
  <span class="legend">
    <span>arrow: delivery</span><span>circle: decision (green approved, red denied, amber timeout)</span>
    <span>square: refusal</span><span>diamond: deletion</span><span>red triangle: injected fault</span>
  </span>
</div>
<div id="chart"></div>
<p>Click an event to see it:</p>
<pre id="detail">(nothing selected)</pre>
<script type="application/json" id="timeline">{{data}}</script>
<script>
"use strict";
(function () {
  const entries = JSON.parse(document.getElementById("timeline").textContent);
  const svgNs = "http://www.w3.org/2000/svg";
  const lanes = [];
  for (const e of entries) {
    for (const name of [e.from, e.to]) {
      if (!lanes.includes(name)) lanes.push(name);
    }
  }
  // x follows virtual time; long quiet gaps are compressed (logarithmically)
  // so that a five-minute deadline does not push everything else together.
  const xs = [];
  let x = 190, last = entries.length ? entries[0].at : 0;
  for (const e of entries) {
    const gap = Math.max(0, e.at - last);
    x += gap === 0 ? 4 : 6 + 30 * Math.log10(1 + gap / 100);
    xs.push(x);
    last = e.at;
  }
  const laneGap = 34, top = 30;
  const width = x + 60, height = top + laneGap * Math.max(1, lanes.length) + 20;
  const laneY = name => top + laneGap * lanes.indexOf(name);
  const el = (tag, attrs, parent) => {
    const n = document.createElementNS(svgNs, tag);
    for (const k in attrs) n.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(n);
    return n;
  };
  const svg = el("svg", { width: width, height: height, id: "timeline-svg" });
  const defs = el("defs", {}, svg);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto-start-reverse" }, defs);
  el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#3465a4" }, marker);
  lanes.forEach(name => {
    const y = laneY(name);
    el("line", { class: "lane", x1: 180, x2: width - 10, y1: y, y2: y }, svg);
    const label = el("text", { class: "lane-label", x: 6, y: y + 4 }, svg);
    label.textContent = name;
  });
  const time = ms => new Date(ms).toISOString().slice(11, 23);
  let lastTick = -Infinity;
  entries.forEach((e, i) => {
    if (xs[i] - lastTick > 90) {
      const t = el("text", { class: "tick", x: xs[i], y: 12 }, svg);
      t.textContent = time(e.at);
      lastTick = xs[i];
    }
  });
  const detail = document.getElementById("detail");
  const shapes = [];
  entries.forEach((e, i) => {
    const cls = ["event", e.kind];
    if (e.kind === "delivery") {
      if (e.eventType === "file.deletion.vote" || e.eventType === "consumer.completion") cls.push("vote");
      if (e.eventType.endsWith(".approved")) cls.push("approved");
      if (e.eventType.endsWith(".denied")) cls.push("denied");
    }
    if (e.kind === "timeout") cls.splice(1, 1, "decision", "timeout");
    if (e.kind === "decision" && e.label.startsWith("denied")) cls.push("denied");
    const faults = ["duplicate", "burst", "dead-letter", "crash", "retry", "lost-race"];
    if (faults.includes(e.kind)) cls.push("fault");
    const g = el("g", { class: cls.join(" "), "data-index": i, "data-kind": e.kind, "data-request": e.request || "", "data-at": e.at }, svg);
    const y1 = laneY(e.from), y2 = laneY(e.to), cx = xs[i];
    if (e.kind === "delivery") {
      el("line", { x1: cx, x2: cx, y1: y1, y2: y2 === y1 ? y1 - 12 : y2 + (y2 > y1 ? -4 : 4), "marker-end": "url(#arrow)" }, g);
      el("circle", { cx: cx, cy: y1, r: 2, fill: "#3465a4" }, g);
    } else if (e.kind === "decision" || e.kind === "timeout") {
      el("circle", { cx: cx, cy: y1, r: 7 }, g);
    } else if (e.kind === "refusal") {
      el("rect", { x: cx - 5, y: y1 - 5, width: 10, height: 10 }, g);
    } else if (e.kind === "deletion") {
      el("path", { d: `M ${cx} ${y1 - 8} L ${cx + 7} ${y1} L ${cx} ${y1 + 8} L ${cx - 7} ${y1} z` }, g);
    } else {
      el("path", { d: `M ${cx} ${y1 - 8} L ${cx + 7} ${y1 + 5} L ${cx - 7} ${y1 + 5} z` }, g);
    }
    const title = el("title", {}, g);
    title.textContent = `${time(e.at)} ${e.label}${e.request ? " [" + e.request + "]" : ""}`;
    g.addEventListener("click", () => show(i));
    shapes.push(g);
  });
  document.getElementById("chart").appendChild(svg);
  const select = document.getElementById("request");
  const requests = [...new Set(entries.map(e => e.request).filter(Boolean))].sort();
  for (const r of requests) {
    const o = document.createElement("option");
    o.value = r;
    o.textContent = r;
    select.appendChild(o);
  }
  const count = document.getElementById("count");
  const apply = () => {
    const want = select.value;
    let shown = 0;
    shapes.forEach(s => {
      const keep = !want || s.getAttribute("data-request") === want;
      s.classList.toggle("hidden", !keep);
      if (keep) shown += 1;
    });
    count.textContent = `${shown} of ${shapes.length} events`;
  };
  select.addEventListener("change", apply);
  const show = i => {
    shapes.forEach(s => s.classList.remove("selected"));
    shapes[i].classList.add("selected");
    detail.textContent = JSON.stringify(entries[i].json || entries[i], null, 2);
  };
  // A link can name a request to filter to and an event to open:
  // page.html#request=ID&event=N.
  const asked = new URLSearchParams(location.hash.slice(1));
  if (asked.has("request")) select.value = asked.get("request");
  apply();
  const n = Number(asked.get("event"));
  if (asked.has("event") && shapes[n]) show(n);
  document.body.setAttribute("data-drawn", String(shapes.length));
})();
</script>
</body>
</html>
"##;
