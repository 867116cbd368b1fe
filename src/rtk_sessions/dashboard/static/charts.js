// Time-series charts (uPlot, vendored) with issue ranges drawn behind the lines.
import uPlot from "./vendor/uplot/uPlot.esm.js";
import { el, state } from "./util.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const SEVERITY = { critical: "rgba(220,38,38,0.22)", high: "rgba(220,38,38,0.18)", major: "rgba(234,88,12,0.18)",
  medium: "rgba(234,88,12,0.16)", warning: "rgba(234,179,8,0.2)", minor: "rgba(234,179,8,0.16)",
  low: "rgba(234,179,8,0.14)" };

export function severityColor(severity) {
  return SEVERITY[String(severity || "").toLowerCase()] || "rgba(234,88,12,0.16)";
}

// series: [{label, x: number[] (epoch s), y: (number|null)[]}] – each sorted by x.
// Aligns them on the union of their x values (uPlot's data layout).
export function align(series) {
  if (series.length === 1) return [series[0].x, series[0].y];
  const xs = new Set();
  for (const s of series) for (const x of s.x) xs.add(x);
  const x = Float64Array.from(xs).sort();
  const index = new Map();
  x.forEach((v, i) => index.set(v, i));
  const ys = series.map((s) => {
    const y = new Array(x.length).fill(null);
    for (let i = 0; i < s.x.length; i++) y[index.get(s.x[i])] = s.y[i];
    return y;
  });
  return [Array.from(x), ...ys];
}

function issuePlugin(ranges) {
  return {
    hooks: {
      drawClear: [(u) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        ctx.save();
        for (const r of ranges) {
          const x0 = u.valToPos(r.start, "x", true);
          const x1 = u.valToPos(Math.max(r.end, r.start), "x", true);
          ctx.fillStyle = severityColor(r.severity);
          ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
        }
        ctx.restore();
      }],
    },
  };
}

// A chart in `parent`: {id, title, unit, series, issues: [{start, end (epoch s), severity, type}],
// width, step}. Its aligned data and issue ranges go to window.rtkDashboard.charts[id].
export function timeChart(parent, { id, title, unit, series, issues = [], width, height = 170, step = false }) {
  const box = el("figure", { class: "chart", dataset: { chart: id } },
    el("figcaption", {}, title, unit ? el("span", { class: "unit" }, ` (${unit})`) : null));
  parent.append(box);
  const data = align(series);
  state.charts[id] = {
    title, unit, x: data[0],
    series: Object.fromEntries(series.map((s, i) => [s.label, data[i + 1]])),
    issues: issues.map((r) => ({ type: r.type, start: r.start, end: r.end, severity: r.severity })),
  };
  const opts = {
    width: width || Math.max(320, Math.min(parent.clientWidth || 560, 560) - 8),
    height,
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { size: 56 }],
    plugins: issues.length ? [issuePlugin(issues)] : [],
    series: [{}, ...series.map((s, i) => ({
      label: s.label,
      stroke: COLORS[i % COLORS.length],
      width: 1.25,
      spanGaps: false,
      paths: step ? uPlot.paths.stepped({ align: 1 }) : undefined,
      points: { show: false },
    }))],
  };
  const chart = new uPlot(opts, data, box);
  return chart;
}

// Vertical bars per category (days): {id, title, labels: string[], values: number[]}.
export function barChart(parent, { id, title, unit, labels, values, width = 560, height = 180 }) {
  const box = el("figure", { class: "chart", dataset: { chart: id } },
    el("figcaption", {}, title, unit ? el("span", { class: "unit" }, ` (${unit})`) : null));
  parent.append(box);
  const x = labels.map((_, i) => i);
  state.charts[id] = { title, unit, x: labels, series: { [title]: values } };
  const bars = uPlot.paths.bars({ size: [0.7, 40] });
  return new uPlot({
    width, height,
    legend: { show: false },
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] } },
    axes: [{ values: (u, splits) => splits.map((i) => (Number.isInteger(i) && labels[i] ? labels[i].slice(5) : "")) },
      { size: 56 }],
    series: [{}, { label: title, stroke: "#2563eb", fill: "rgba(37,99,235,0.35)", paths: bars, points: { show: false } }],
  }, [x, values], box);
}
