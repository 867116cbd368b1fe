// The public API, called with the API token from sessionStorage in an Authorization header.
// The token never goes into a URL (not in the page's address, not in a query string).

const KEY = { token: "rtk.token", account: "rtk.account", app: "rtk.app" };

export const auth = {
  get token() { return sessionStorage.getItem(KEY.token); },
  get account() { return sessionStorage.getItem(KEY.account); },
  get app() { return sessionStorage.getItem(KEY.app); },
  set app(id) { sessionStorage.setItem(KEY.app, id); },
  signIn(token, account) {
    sessionStorage.setItem(KEY.token, token);
    sessionStorage.setItem(KEY.account, account);
  },
  signOut() { for (const k of Object.values(KEY)) sessionStorage.removeItem(k); },
};

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export async function request(path, params, token = auth.token) {
  const res = await fetch(path + query(params), {
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    cache: "no-store",
  });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok || !body || body.success === false) {
    const msg = body?.errors?.[0]?.message || body?.error?.message || `HTTP ${res.status}`;
    throw new ApiError(res.status, msg);
  }
  return body;
}

const kit = (path) => `/client/v4/accounts/${encodeURIComponent(auth.account)}/realtime/kit${path}`;
const appPath = (path) => kit(`/${encodeURIComponent(auth.app)}${path}`);
const dash = (path) =>
  `/dashboard/api/accounts/${encodeURIComponent(auth.account)}/apps/${encodeURIComponent(auth.app)}${path}`;

export const api = {
  whoami: (token) => request("/dashboard/api/whoami", null, token),
  apps: () => request(kit("/apps"), { per_page: 100 }),
  sessions: (params) => request(appPath("/sessions"), params),
  session: (id) => request(appPath(`/sessions/${encodeURIComponent(id)}`), { include_breakout_rooms: true }),
  participants: (id, params) => request(appPath(`/sessions/${encodeURIComponent(id)}/participants`), params),
  peerReport: (peerId) =>
    request(appPath(`/sessions/peer-report/${encodeURIComponent(peerId)}`), { include_peer_events: true }),
  chat: (id) => request(appPath(`/sessions/${encodeURIComponent(id)}/chat`)),
  transcript: (id) => request(appPath(`/sessions/${encodeURIComponent(id)}/transcript`), { format: "JSON" }),
  summary: (id) => request(appPath(`/sessions/${encodeURIComponent(id)}/summary`)),
  sessionQuality: (id) => request(dash(`/sessions/${encodeURIComponent(id)}/quality`)),
  fleet: (days) => request(dash("/fleet"), { days }),
};

// Every participant of a session (the API pages at most 100 at a time), with peer events.
export async function allParticipants(sessionId, limit = 2000) {
  const out = [];
  for (let page = 1; out.length < limit; page++) {
    const body = await api.participants(sessionId, { page_no: page, per_page: 100, include_peer_events: true });
    const items = body.data.participants || [];
    out.push(...items);
    const total = body.paging?.total_count ?? body.data.paging?.total_count ?? out.length;
    if (!items.length || out.length >= total) break;
  }
  return out;
}
