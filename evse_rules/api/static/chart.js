// The 24 h chart: a hand-written SVG, no library. Powers (PV, house, the EV) share the left
// axis in kW; the charging current has its own right axis in A.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 4, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

// series: [{name, unit, points: [[ms, value|null]]}]; lines: [{key, label, cls, axis}]
function drawChart(container, series, lines) {
  const byName = new Map(series.map((s) => [s.name, s]));
  const shown = lines.filter((line) => byName.has(line.key));
  container.replaceChildren();
  if (!shown.length) {
    container.textContent = "no samples yet";
    return;
  }
  const W = 600, H = 190, L = 34, R = 30, T = 18, B = 20;
  let t0 = Infinity, t1 = -Infinity, leftMax = 0, rightMax = 0;
  for (const line of shown) {
    for (const [t, v] of byName.get(line.key).points) {
      t0 = Math.min(t0, t); t1 = Math.max(t1, t);
      if (v == null) continue;
      const y = line.axis === "A" ? v : v / 1000;
      if (line.axis === "A") rightMax = Math.max(rightMax, y); else leftMax = Math.max(leftMax, y);
    }
  }
  if (!Number.isFinite(t0) || !Number.isFinite(t1)) {
    // No sample at all (the engine has just started): nothing to draw. Without this the
    // hour grid below would count from an infinite time forever.
    container.textContent = "no samples yet";
    return;
  }
  if (!(t1 > t0)) t1 = t0 + 1;
  leftMax = niceMax(leftMax);
  rightMax = niceMax(rightMax || 32);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const yOf = (v, axis) => T + (1 - v / (axis === "A" ? rightMax : leftMax)) * (H - T - B);

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "Last 24 hours: " + shown.map((l) => l.label).join(", ") });
  for (let i = 0; i <= 4; i++) {
    const y = T + (i / 4) * (H - T - B);
    svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }, root);
    svg("text", { x: L - 4, y: y + 4, class: "axis", "text-anchor": "end" }, root)
      .textContent = `${+(leftMax * (1 - i / 4)).toFixed(1)}`;
    svg("text", { x: W - R + 4, y: y + 4, class: "axis" }, root)
      .textContent = `${Math.round(rightMax * (1 - i / 4))}`;
  }
  svg("text", { x: 2, y: 10, class: "axis" }, root).textContent = "kW";
  svg("text", { x: W - 12, y: 10, class: "axis" }, root).textContent = "A";
  const hour = 3600 * 1000;
  // Grid lines on the engine's whole 6 hours (its offset from UTC shifts them).
  const shift = (window.engineOffsetMs || 0);
  for (let t = Math.ceil((t0 + shift) / (6 * hour)) * 6 * hour - shift; t <= t1; t += 6 * hour) {
    svg("line", { x1: x(t), x2: x(t), y1: T, y2: H - B, class: "grid" }, root);
    const label = window.clockMs(t);
    svg("text", { x: x(t), y: H - 5, class: "axis", "text-anchor": "middle" }, root)
      .textContent = label;
  }
  for (const line of shown) {
    let d = "", pen = "M";
    for (const [t, v] of byName.get(line.key).points) {
      if (v == null) { pen = "M"; continue; }   // a gap in the data stays a gap
      const y = line.axis === "A" ? v : v / 1000;
      d += `${pen}${x(t).toFixed(1)},${yOf(y, line.axis).toFixed(1)}`;
      pen = "L";
    }
    svg("path", { d, class: `line ${line.cls}`, "data-series": line.key }, root);
  }
  container.appendChild(root);
  const legend = document.createElement("ul");
  legend.className = "legend";
  for (const line of shown) {
    const item = document.createElement("li");
    item.className = line.cls;
    item.textContent = line.label;
    legend.appendChild(item);
  }
  container.appendChild(legend);
}

window.drawChart = drawChart;
