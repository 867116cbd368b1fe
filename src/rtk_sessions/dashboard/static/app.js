// The dashboard: hash routes (#/sessions, #/session/<id>, #/peer/<id>, #/fleet). No token in URLs.
import { api, auth, ApiError } from "./api.js";
import { el, fmtMinutes, fmtTime, message, short, state } from "./util.js";
import { sessionPage } from "./session.js";
import { participantPage } from "./participant.js";
import { fleetPage } from "./fleet.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const picker = document.getElementById("app-picker");
let timers = [];

export function every(ms, fn) { timers.push(setInterval(fn, ms)); }
function clearTimers() { timers.forEach(clearInterval); timers = []; }

function signInPage(error) {
  nav.hidden = true;
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true, size: 48 });
  const form = el("form", { class: "card signin", onsubmit: async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    try {
      const who = await api.whoami(token);
      auth.signIn(token, who.data.account_id);
      input.value = "";
      await route();
    } catch (e) {
      signInPage(e instanceof ApiError && e.status === 401 ? "That API token is not valid." : String(e.message || e));
    }
  } },
  el("h1", {}, "Sign in"),
  el("p", {}, "Use an API token of your account (rtk-sessions create-token). It stays in this browser tab only."),
  el("label", { for: "token" }, "API token"), input,
  el("button", { type: "submit" }, "Sign in"),
  error ? message("error", error) : null);
  view.replaceChildren(form);
  input.focus();
}

async function loadApps() {
  const body = await api.apps();
  const apps = body.data || [];
  picker.replaceChildren(...apps.map((a) => el("option", { value: a.id }, `${a.name} (${short(a.id)})`)));
  if (!apps.some((a) => a.id === auth.app) && apps.length) auth.app = apps[0].id;
  picker.value = auth.app || "";
  return apps;
}

picker.addEventListener("change", () => { auth.app = picker.value; location.hash = "#/sessions"; route(); });
document.getElementById("sign-out").addEventListener("click", () => {
  auth.signOut(); location.hash = ""; route();
});

function params() {
  const [, q = ""] = location.hash.split("?");
  return Object.fromEntries(new URLSearchParams(q));
}

const FILTERS = ["status", "search", "associated_id", "start_time", "end_time", "participants",
  "sort_by", "sort_order", "per_page", "page_no"];

async function sessionsPage() {
  const p = params();
  const form = el("form", { class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, String(v));
    location.hash = `#/sessions?${q}`;
  } });
  const field = (label, name, input) => el("label", {}, label, input);
  const select = (name, options) => el("select", { name },
    ...options.map(([v, t]) => el("option", { value: v, selected: (p[name] || "") === v }, t)));
  const text = (name, attrs = {}) => el("input", { name, value: p[name] || "", ...attrs });
  form.append(
    field("Search", "search", text("search", { type: "search", placeholder: "title, meeting or session id" })),
    field("Status", "status", select("status", [["", "any"], ["LIVE", "LIVE"], ["ENDED", "ENDED"]])),
    field("Meeting id", "associated_id", text("associated_id", { size: 12 })),
    field("From", "start_time", text("start_time", { placeholder: "2026-01-01T00:00:00Z", size: 20 })),
    field("To", "end_time", text("end_time", { placeholder: "ISO 8601", size: 20 })),
    field("Participants", "participants", text("participants", { placeholder: "min:max", size: 7 })),
    field("Sort by", "sort_by", select("sort_by", [["", "created"], ["minutesConsumed", "minutes"]])),
    field("Order", "sort_order", select("sort_order", [["", "newest first"], ["ASC", "oldest first"]])),
    field("Per page", "per_page", select("per_page", [["", "20"], ["50", "50"], ["100", "100"]])),
    el("button", { type: "submit" }, "Apply"),
  );
  const table = el("div", { id: "sessions" }, message("info", "Loading…"));
  view.replaceChildren(el("h1", {}, "Sessions"), form, table);
  const query = Object.fromEntries(FILTERS.filter((k) => p[k]).map((k) => [k, p[k]]));
  const load = async () => {
    const body = await api.sessions(query);
    const sessions = body.data.sessions || [];
    const paging = body.paging || {};
    const page = Number(query.page_no || 1);
    const per = Number(query.per_page || 20);
    const total = paging.total_count ?? sessions.length;
    const rows = sessions.map((s) => el("tr", { class: s.status === "LIVE" ? "live" : "" },
      el("td", {}, el("a", { href: `#/session/${encodeURIComponent(s.id)}` }, s.meeting_display_name || short(s.id))),
      el("td", {}, el("span", { class: `badge ${s.status.toLowerCase()}` }, s.status)),
      el("td", {}, fmtTime(s.created_at)),
      el("td", { class: "num" }, fmtMinutes(s.minutes_consumed)),
      el("td", { class: "num" }, s.status === "LIVE" ? `${s.live_participants} live` : String(s.max_concurrent_participants)),
      el("td", { class: "mono" }, short(s.associated_id))));
    const go = (n) => { const q = new URLSearchParams({ ...query, page_no: String(n) }); location.hash = `#/sessions?${q}`; };
    table.replaceChildren(
      el("table", { class: "list" },
        el("thead", {}, el("tr", {}, ...["Session", "Status", "Created (UTC)", "Minutes", "Participants", "Meeting"].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 6 }, "No sessions match.")))),
      el("div", { class: "pager" },
        el("button", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, "‹ Previous"),
        el("span", {}, `Page ${page} of ${Math.max(1, Math.ceil(total / per))} · ${total} sessions`),
        el("button", { type: "button", disabled: page * per >= total, onclick: () => go(page + 1) }, "Next ›")));
    state.page = { name: "sessions", total, ids: sessions.map((s) => s.id), refreshedAt: Date.now() };
    return sessions.some((s) => s.status === "LIVE");
  };
  const live = await load();
  if (live || query.status === "LIVE") every(5000, () => load().catch(() => {}));
}

async function route() {
  clearTimers();
  state.charts = {};
  if (!auth.token) return signInPage();
  nav.hidden = false;
  try {
    await loadApps();
    if (!auth.app) { view.replaceChildren(message("info", "This account has no apps yet.")); return; }
    const [path] = location.hash.replace(/^#/, "").split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] === "session" && parts[1]) await sessionPage(view, parts[1], every);
    else if (parts[0] === "peer" && parts[1]) await participantPage(view, parts[1]);
    else if (parts[0] === "fleet") await fleetPage(view);
    else await sessionsPage();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { auth.signOut(); return signInPage("Signed out: the token is no longer valid."); }
    view.replaceChildren(message("error", `Could not load this page: ${e.message || e}`));
  }
  document.body.dataset.ready = location.hash || "#/sessions";
}

window.addEventListener("hashchange", () => { delete document.body.dataset.ready; route(); });
route();
