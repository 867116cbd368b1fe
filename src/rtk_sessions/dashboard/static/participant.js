// A participant (one peer): charts over time per stream kind from the peer report's sample rows,
// detected issues drawn on them, candidate pairs, device/browser/network and events.
import { api } from "./api.js";
import { timeChart, severityColor } from "./charts.js";
import { kindLabel } from "./session.js";
import { el, fmtMinutes, fmtNum, fmtTime, message, short, state, who } from "./util.js";

export const KINDS = ["audio_producer", "video_producer", "screenshare_audio_producer", "screenshare_video_producer",
  "audio_consumer", "video_consumer", "screenshare_audio_consumer", "screenshare_video_consumer"];

// What each chart shows, from one row (and the previous row of the same stream, for rates).
// Units: ms, %, kbit/s, fps, px, s. The same formulas are in tests/dashboard (chart values = API).
export const METRICS = [
  { key: "rtt", title: "Round-trip time", unit: "ms", producer: true, value: (r) => num(r.rtt, 1000) },
  { key: "loss", title: "Packet loss", unit: "%", value: (r, producer) => lossPct(r, producer) },
  { key: "jitter", title: "Jitter", unit: "ms", value: (r) => num(r.jitter, 1000) },
  { key: "jitter_buffer", title: "Jitter buffer delay", unit: "ms", consumer: true,
    value: (r) => (r.jitter_buffer_emitted_count > 0 && r.jitter_buffer_delay != null
      ? (r.jitter_buffer_delay / r.jitter_buffer_emitted_count) * 1000 : null) },
  { key: "mos", title: "MOS", unit: "1–5", value: (r) => (r.mos_quality > 0 ? r.mos_quality : null) },
  { key: "bitrate", title: "Bitrate", unit: "kbit/s", value: (r, producer, dt) => {
    const bytes = producer ? r.bytes_sent : r.bytes_received;
    return dt > 0 && bytes != null ? (bytes * 8) / dt / 1000 : null;
  } },
  { key: "fps", title: "Frame rate", unit: "fps", video: true, value: (r) => num(r.frames_per_second) },
  { key: "height", title: "Resolution (frame height)", unit: "px", video: true, step: true, value: (r) => num(r.frame_height) },
  { key: "ql_bandwidth", title: "Quality limited by bandwidth", unit: "s per interval", video: true, producer: true, step: true,
    value: (r) => num(r.quality_limitation_durations?.bandwidth) },
  { key: "ql_cpu", title: "Quality limited by CPU", unit: "s per interval", video: true, producer: true, step: true,
    value: (r) => num(r.quality_limitation_durations?.cpu) },
];

function num(v, scale = 1) { return typeof v === "number" && Number.isFinite(v) ? v * scale : null; }

function lossPct(r, producer) {
  const lost = r.packets_lost;
  if (typeof lost !== "number") return null;
  const base = producer ? r.packets_sent : lost + (r.packets_received || 0);
  return base > 0 ? Math.min(100, (lost / base) * 100) : null;
}

// Rows of one kind → per-stream series of every metric that applies: {metric.key: [{label,x,y}]}.
export function kindSeries(kind, rows) {
  const producer = kind.endsWith("_producer");
  const video = kind.includes("video");
  const metrics = METRICS.filter((m) => (!m.producer || producer) && (!m.consumer || !producer) && (!m.video || video));
  const streams = new Map();
  for (const r of rows) {
    const id = (producer ? r.producer_id : r.consumer_id) || `ssrc ${r.ssrc}`;
    if (!streams.has(id)) streams.set(id, []);
    streams.get(id).push(r);
  }
  const out = Object.fromEntries(metrics.map((m) => [m.key, []]));
  for (const [id, list] of streams) {
    const label = producer ? `sent ${short(id)}` : `from ${short(list[0].peer_id)} ${short(id)}`;
    const x = new Array(list.length);
    const ys = metrics.map(() => new Array(list.length));
    let prev = null;
    for (let i = 0; i < list.length; i++) {
      const t = Date.parse(list[i].timestamp) / 1000;
      const dt = prev === null ? 0 : t - prev;
      x[i] = t;
      for (let j = 0; j < metrics.length; j++) ys[j][i] = metrics[j].value(list[i], producer, dt);
      prev = t;
    }
    metrics.forEach((m, j) => {
      if (ys[j].some((v) => v !== null)) out[m.key].push({ label, x, y: ys[j] });
    });
  }
  return { metrics, out };
}

function issueRanges(issues, kind, openEnd) {
  // kind null: the whole peer; a stream kind ("video_consumer") or a media kind ("video", "audio")
  return issues.filter((i) => !i.kind || i.kind === kind || kind.split("_").includes(i.kind))
    .map((i) => ({ type: i.type, severity: i.severity, start: Date.parse(i.start) / 1000,
      end: i.end ? Date.parse(i.end) / 1000 : openEnd }))
    .filter((r) => Number.isFinite(r.start));
}

function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
}

function pairTable(pairs) {
  const rows = [...(pairs?.producing_transport || []).map((p) => ["sending", p]),
    ...(pairs?.consuming_transport || []).map((p) => ["receiving", p])];
  if (!rows.length) return message("info", "No candidate pairs.");
  return el("table", { class: "list", id: "candidate-pairs" },
    el("thead", {}, el("tr", {}, ...["Transport", "Local", "Network", "Remote", "Protocol", "RTT (ms)", "Nominated"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map(([role, p]) => el("tr", {},
      el("td", {}, role),
      el("td", {}, `${p.local_candidate_type || "?"} ${p.local_candidate_address || ""}${p.local_candidate_port ? `:${p.local_candidate_port}` : ""}`),
      el("td", {}, p.local_candidate_network_type || "–"),
      el("td", {}, `${p.remote_candidate_type || "?"} ${p.remote_candidate_address || ""}${p.remote_candidate_port ? `:${p.remote_candidate_port}` : ""}`),
      el("td", {}, p.local_candidate_protocol || p.remote_candidate_protocol || "–"),
      el("td", { class: "num" }, p.current_round_trip_time != null ? fmtNum(p.current_round_trip_time * 1000, 1) : "–"),
      el("td", {}, p.nominated ? "yes" : "no")))));
}

function eventTable(participant, meta) {
  const events = [
    ...(participant.peer_events || []).map((e) => ({ t: e.created_at, name: e.event_name, detail: "" })),
    ...(meta.events || []).map((e) => ({ t: e.timestamp, name: e.name, detail: e.metadata && Object.keys(e.metadata).length ? JSON.stringify(e.metadata) : "" })),
  ].sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
  if (!events.length) return message("info", "No events.");
  const shown = events.slice(0, 1000);
  return el("div", {},
    el("table", { class: "list", id: "events" },
      el("thead", {}, el("tr", {}, el("th", {}, "Time (UTC)"), el("th", {}, "Event"), el("th", {}, "Detail"))),
      el("tbody", {}, shown.map((e) => el("tr", {}, el("td", {}, fmtTime(e.t)), el("td", {}, e.name), el("td", { class: "mono small" }, e.detail))))),
    events.length > shown.length ? message("info", `${events.length - shown.length} more events not shown.`) : null);
}

function issueTable(issues) {
  if (!issues) return message("info", "Detected issues are not available from this server.");
  if (!issues.length) return message("ok", "No issues detected.");
  return el("table", { class: "list", id: "detected-issues" },
    el("thead", {}, el("tr", {}, ...["Issue", "Stream", "From", "To", "Severity", "Detail"].map((h) => el("th", {}, h)))),
    el("tbody", {}, issues.map((i) => el("tr", {},
      el("td", {}, el("span", { class: "swatch", style: `background:${severityColor(i.severity)}` }), i.type),
      el("td", {}, i.kind ? kindLabel(i.kind) : "peer"),
      el("td", {}, fmtTime(i.start)), el("td", {}, i.end ? fmtTime(i.end) : "–"),
      el("td", {}, i.severity ?? "–"),
      el("td", { class: "small" }, typeof i.detail === "object" && i.detail !== null ? JSON.stringify(i.detail) : (i.detail ?? ""))))));
}

function cumulative(quality) {
  const rows = KINDS.filter((k) => quality[`${k}_cumulative`] && Object.keys(quality[`${k}_cumulative`]).length).map((k) => {
    const c = quality[`${k}_cumulative`];
    const lat = c.rtt || c.jitter_buffer_delay;
    return el("tr", {}, el("td", {}, kindLabel(k)),
      el("td", { class: "num" }, fmtNum(c.quality_mos?.avg)),
      el("td", { class: "num" }, fmtNum(c.packet_loss?.avg)),
      el("td", { class: "num" }, lat ? `${fmtNum(lat.avg, 1)} (${c.rtt ? "RTT" : "buffer"})` : "–"),
      el("td", { class: "num" }, c.frame_per_second ? fmtNum(c.frame_per_second.avg, 1) : "–"));
  });
  if (!rows.length) return message("info", "No call statistics for this participant.");
  return el("table", { class: "list" }, el("thead", {}, el("tr", {}, ...["Stream", "MOS avg", "Loss avg (%)", "Latency avg (ms)", "FPS avg"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

export async function participantPage(view, peerId) {
  const tFetch = performance.now();
  const body = await api.peerReport(peerId);
  const tRender = performance.now();
  const p = body.data.participant;
  const report = p.peer_report || {};
  const meta = report.metadata || {};
  const quality = report.quality || {};
  const issues = Array.isArray(report.detected_issues) ? report.detected_issues : null;
  const pcm = (meta.pc_metadata || []).at(-1) || {};
  const pairs = [...(meta.candidate_pairs?.producing_transport || []), ...(meta.candidate_pairs?.consuming_transport || [])];
  const relayed = pairs.some((c) => c.local_candidate_type === "relay" || c.remote_candidate_type === "relay");
  const b = meta.browser_metadata || {}; const d = meta.device_info || {}; const ip = meta.ip_information || {};
  const charts = el("section", { id: "charts" });
  view.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "#/sessions" }, "Sessions"), " › ",
      el("a", { href: `#/session/${encodeURIComponent(p.session_id)}` }, `session ${short(p.session_id)}`), " › ", who(p)),
    el("h1", {}, who(p), p.role ? el("span", { class: "badge" }, p.role) : null),
    el("section", { class: "grid3" },
      el("div", { class: "card" }, el("h2", {}, "Participant"), facts([["Peer", p.id], ["User", p.user_id],
        ["Custom id", p.custom_participant_id], ["Joined", fmtTime(p.joined_at)], ["Left", p.left_at ? fmtTime(p.left_at) : "in call"],
        ["Duration", fmtMinutes(p.duration)]])),
      el("div", { class: "card", id: "device" }, el("h2", {}, "Device and browser"), facts([
        ["Browser", [b.browser, b.browser_version].filter(Boolean).join(" ")], ["Engine", b.engine],
        ["OS", [d.os, d.os_version].filter(Boolean).join(" ")], ["CPUs", d.cpus], ["Mobile", d.is_mobile],
        ["SDK", [meta.sdk_name, meta.sdk_version].filter(Boolean).join(" ")], ["User agent", b.user_agent]])),
      el("div", { class: "card", id: "network" }, el("h2", {}, "Network"), facts([
        ["Network type", pcm.effective_network_type || pairs.find((c) => c.local_candidate_network_type)?.local_candidate_network_type],
        ["Media path", pairs.length ? (relayed ? "through a TURN relay" : "direct (no relay)") : undefined],
        ["Relay (TURN) reachable", pcm.relay_connectivity],
        ["Reflexive (STUN)", pcm.reflexive_connectivity], ["IP", ip.ipv4], ["Location", [ip.city, ip.region, ip.country].filter(Boolean).join(", ")],
        ["Organisation", ip.org || ip.asn?.name]]))),
    el("h2", {}, "Quality over the call"), cumulative(quality),
    el("h2", {}, "Detected issues"), issueTable(issues),
    charts,
    el("h2", {}, "Candidate pairs"), pairTable(meta.candidate_pairs),
    el("h2", {}, "Events"), eventTable(p, meta));
  let drawn = 0;
  for (const kind of KINDS) {
    const rows = quality[kind];
    if (!Array.isArray(rows) || !rows.length) continue;
    const { metrics, out } = kindSeries(kind, rows);
    const openEnd = (p.left_at ? Date.parse(p.left_at) : Date.now()) / 1000; // an issue without end lasts
    const ranges = issues ? issueRanges(issues, kind, openEnd) : [];
    const grid = el("div", { class: "charts" });
    charts.append(el("h2", {}, `Charts: ${kindLabel(kind)}`, el("span", { class: "hint" }, ` ${rows.length} samples`)), grid);
    for (const m of metrics) {
      if (!out[m.key].length) continue;
      timeChart(grid, { id: `${kind}.${m.key}`, title: m.title, unit: m.unit, series: out[m.key], issues: ranges, step: m.step });
      drawn++;
    }
  }
  if (!drawn) charts.append(message("info", "No sample rows: nothing to chart."));
  const built = performance.now();
  // uPlot draws its canvases in a microtask; the next frame has them drawn, laid out and painted.
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const painted = performance.now();
  state.timings.participant = {
    fetch_ms: tRender - tFetch, // request + JSON parse of the peer report
    build_ms: built - tRender, // DOM and chart construction (synchronous)
    render_ms: painted - tRender, // until the next frame after the charts drew: what a person waits
    charts: drawn,
  };
  state.page = { name: "participant", id: p.id };
}
