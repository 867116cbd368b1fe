// The fleet: sessions and minutes per day, peers' quality by browser, OS and network type.
import { api } from "./api.js";
import { barChart } from "./charts.js";
import { el, message, state } from "./util.js";

const CLASSES = ["good", "fair", "poor", "unknown"];

function distribution(id, title, groups) {
  if (!groups.length) return el("div", { class: "card" }, el("h2", {}, title), message("info", "No peers."));
  state.charts[id] = { title, groups };
  return el("div", { class: "card", id }, el("h2", {}, title),
    el("table", { class: "dist" }, el("tbody", {}, groups.map((g) => {
      const total = CLASSES.reduce((n, c) => n + g[c], 0);
      return el("tr", {}, el("th", {}, g.name), el("td", { class: "num" }, String(total)),
        el("td", { class: "stack" }, CLASSES.filter((c) => g[c]).map((c) =>
          el("span", { class: `seg ${c}`, style: `width:${((g[c] / total) * 100).toFixed(2)}%`, title: `${c}: ${g[c]}` }, String(g[c])))));
    }))));
}

export async function fleetPage(view) {
  const days = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("days") || 14);
  const body = await api.fleet(days);
  const f = body.data;
  const charts = el("div", { class: "charts" });
  view.replaceChildren(
    el("h1", {}, "Fleet"),
    el("p", {}, `The last ${f.days} days (UTC, since ${f.since.slice(0, 10)}). `,
      ...[7, 14, 30, 90].map((n) => el("a", { class: "chip", href: `#/fleet?days=${n}` }, `${n} days`))),
    charts,
    el("p", { class: "hint" }, `Quality of ${f.peers} peers: the lowest mean MOS of their streams; good ≥ 4.0, fair ≥ 3.0, poor below; unknown without call statistics.`,
      f.peers_truncated ? " Only the newest peers were counted." : ""),
    el("div", { class: "legend" }, CLASSES.map((c) => el("span", { class: `seg ${c}` }, c))),
    el("section", { class: "grid3" },
      distribution("fleet.browser", "By browser", f.by_browser),
      distribution("fleet.os", "By OS", f.by_os),
      distribution("fleet.network", "By network type", f.by_network)));
  const labels = f.per_day.map((d) => d.day);
  barChart(charts, { id: "fleet.sessions", title: "Sessions per day", labels, values: f.per_day.map((d) => d.sessions) });
  barChart(charts, { id: "fleet.minutes", title: "Minutes per day", unit: "min", labels, values: f.per_day.map((d) => d.minutes) });
  state.page = { name: "fleet", days: f.days };
}
