// DOM helpers: text always goes in as textContent (data never becomes HTML).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "style") node.setAttribute("style", v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const ms = (iso) => (iso ? Date.parse(iso) : NaN);

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function fmtMinutes(m) {
  if (m === undefined || m === null) return "–";
  if (m < 1) return `${Math.round(m * 60)} s`;
  if (m < 120) return `${m.toFixed(1)} min`;
  return `${(m / 60).toFixed(1)} h`;
}

export function fmtNum(v, digits = 2) {
  return v === undefined || v === null || Number.isNaN(v) ? "–" : Number(v).toFixed(digits);
}

export function mosClass(mos) {
  if (mos === undefined || mos === null) return "unknown";
  return mos >= 4 ? "good" : mos >= 3 ? "fair" : "poor";
}

export function short(id) { return id ? String(id).slice(0, 8) : "–"; }

export function who(p) {
  return p.display_name || p.custom_participant_id || short(p.user_id || p.id);
}

export function message(kind, text) { return el("p", { class: `msg ${kind}` }, text); }

// A small CSV parser (RFC 4180 quotes) for the chat export.
export function parseCsv(text) {
  const rows = []; let row = []; let field = ""; let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => r.length > 1 || r[0] !== "");
}

// The dashboard's state for tests and people with devtools: chart data, render timings.
export const state = (window.rtkDashboard = window.rtkDashboard || { charts: {}, timings: {}, page: null });
