// A session: timeline of joins and leaves (rejoins, breakout rooms), participants worst first,
// chat, transcript and summary.
import { allParticipants, api } from "./api.js";
import { el, fmtMinutes, fmtNum, fmtTime, message, mosClass, ms, parseCsv, short, state, who } from "./util.js";

const KIND_LABEL = {
  audio_producer: "audio sent", video_producer: "video sent", audio_consumer: "audio received",
  video_consumer: "video received", screenshare_audio_producer: "screen audio sent",
  screenshare_video_producer: "screen sent", screenshare_audio_consumer: "screen audio received",
  screenshare_video_consumer: "screen received",
};
export const kindLabel = (k) => KIND_LABEL[k] || k || "peer";

// Same-origin path of a signed download URL (the URL carries a signature, not the API token).
const local = (u) => { const url = new URL(u, location.href); return url.pathname + url.search; };

function timeline(rooms, quality, now) {
  const all = rooms.flatMap((r) => r.participants);
  const starts = all.map((p) => ms(p.joined_at)).filter(Number.isFinite);
  const ends = all.map((p) => ms(p.left_at) || now);
  if (!starts.length) return message("info", "Nobody joined this session.");
  const t0 = Math.min(...starts); const t1 = Math.max(...ends, t0 + 1000);
  const pct = (t) => `${(((t - t0) / (t1 - t0)) * 100).toFixed(3)}%`;
  const lanes = [];
  for (const room of rooms) {
    const people = new Map();
    for (const p of room.participants) {
      const key = p.user_id || p.custom_participant_id || p.display_name || p.id;
      if (!people.has(key)) people.set(key, []);
      people.get(key).push(p);
    }
    lanes.push(el("div", { class: "lane-room" }, room.label, room.participants.length ? null : " – nobody joined"));
    for (const [, joins] of people) {
      joins.sort((a, b) => ms(a.joined_at) - ms(b.joined_at));
      const bars = joins.map((p) => {
        const start = ms(p.joined_at); const end = ms(p.left_at) || now;
        const q = quality.get(p.id);
        return el("a", {
          class: `bar ${mosClass(q?.worst_mos)}${p.left_at ? "" : " open"}`,
          href: `#/peer/${encodeURIComponent(p.id)}`,
          style: `left:${pct(start)};width:calc(${pct(end)} - ${pct(start)})`,
          title: `${who(p)}: ${fmtTime(p.joined_at)} → ${p.left_at ? fmtTime(p.left_at) : "now"} (${fmtMinutes(p.duration)})`,
          dataset: { peer: p.id },
        });
      });
      lanes.push(el("div", { class: "lane" },
        el("span", { class: "lane-name" }, who(joins[0]), joins.length > 1 ? ` ×${joins.length}` : ""),
        el("div", { class: "lane-track" }, bars)));
    }
  }
  return el("div", { class: "timeline", id: "timeline" },
    el("div", { class: "axis" }, el("span", {}, fmtTime(new Date(t0).toISOString())),
      el("span", {}, fmtTime(new Date(t1).toISOString()))),
    lanes);
}

function participantTable(rooms, quality) {
  const rows = rooms.flatMap((r) => r.participants.map((p) => ({ p, room: r, q: quality.get(p.id) })));
  // Worst first: lowest MOS of any stream kind; peers without telemetry last.
  rows.sort((a, b) => {
    const am = a.q?.worst_mos ?? Infinity; const bm = b.q?.worst_mos ?? Infinity;
    return am - bm || (b.q?.issues.length || 0) - (a.q?.issues.length || 0) || ms(a.p.joined_at) - ms(b.p.joined_at);
  });
  return el("table", { class: "list", id: "participants" },
    el("thead", {}, el("tr", {}, ...["Participant", "Room", "Joined", "Left", "Duration", "Worst MOS", "Worst issues"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map(({ p, room, q }) => el("tr", { dataset: { peer: p.id } },
      el("td", {}, el("a", { href: `#/peer/${encodeURIComponent(p.id)}` }, who(p))),
      el("td", {}, room.short),
      el("td", {}, fmtTime(p.joined_at)),
      el("td", {}, p.left_at ? fmtTime(p.left_at) : el("span", { class: "badge live" }, "in call")),
      el("td", { class: "num" }, fmtMinutes(p.duration)),
      el("td", { class: "num" }, q?.worst_mos != null
        ? el("span", { class: `mos ${mosClass(q.worst_mos)}` }, fmtNum(q.worst_mos)) : "–"),
      el("td", {}, q?.issues.length
        ? q.issues.slice(0, 3).map((i) => el("span", { class: "issue" }, `${i.name} · ${kindLabel(i.kind)} · ${Math.round(i.fraction * 100)} %`))
        : (q && Object.keys(q.mos).length ? "none" : "no telemetry"))))));
}

async function conversation(id, quality) {
  const box = el("section", { class: "grid3" });
  const chat = el("div", { class: "card", id: "chat" }, el("h2", {}, "Chat"), message("info", "Loading…"));
  const transcript = el("div", { class: "card", id: "transcript" }, el("h2", {}, "Transcript"));
  const summary = el("div", { class: "card", id: "summary" }, el("h2", {}, "Summary"));
  box.append(chat, transcript, summary);
  const jobs = [];
  jobs.push((async () => {
    const body = await api.chat(id);
    const text = await (await fetch(local(body.data.chat_download_url), { cache: "no-store" })).text();
    const [header = [], ...rows] = parseCsv(text);
    const col = (n) => header.indexOf(n);
    const [cName, cText, cTime] = [col("displayName"), col("payload"), col("createdAt")];
    chat.replaceChildren(el("h2", {}, `Chat (${rows.length})`), rows.length
      ? el("ol", { class: "chat" }, rows.map((r) => el("li", {},
        el("span", { class: "when" }, cTime >= 0 ? fmtTime(r[cTime]) : ""), " ",
        el("b", {}, cName >= 0 ? r[cName] : ""), " ", cText >= 0 ? r[cText] : r.join(" "))))
      : message("info", "No chat messages."));
  })().catch((e) => chat.append(message("error", `Chat: ${e.message}`))));
  if (quality.has_transcript) {
    jobs.push((async () => {
      const body = await api.transcript(id);
      const doc = await (await fetch(local(body.data.transcript_download_url), { cache: "no-store" })).json();
      const segments = Array.isArray(doc) ? doc : (doc.segments || doc.transcript || []);
      transcript.append(el("ol", { class: "chat" }, segments.slice(0, 2000).map((s) => el("li", {},
        el("b", {}, s.name || s.speaker || s.display_name || s.peer_id || ""), " ", s.transcript ?? s.text ?? JSON.stringify(s)))));
    })().catch((e) => transcript.append(message("error", `Transcript: ${e.message}`))));
  } else transcript.append(message("info", "No transcript."));
  if (quality.has_summary) {
    jobs.push((async () => {
      const body = await api.summary(id);
      const text = await (await fetch(local(body.data.summaryDownloadUrl), { cache: "no-store" })).text();
      summary.append(el("pre", { class: "summary" }, text));
    })().catch((e) => summary.append(message("error", `Summary: ${e.message}`))));
  } else summary.append(message("info", `No summary: ${quality.summary_status || "none"}.`));
  await Promise.all(jobs);
  return box;
}

export async function sessionPage(view, id, every) {
  const t0 = performance.now();
  const load = async () => {
    const [detail, quality] = await Promise.all([api.session(id), api.sessionQuality(id)]);
    const s = detail.data;
    const roomList = [{ id: s.id, label: "Main room", short: "main" },
      ...(s.breakout_rooms || []).map((r, i) => ({ id: r.id, label: `Breakout room ${i + 1}: ${r.meeting_display_name || short(r.id)}`, short: `room ${i + 1}` }))];
    const qualities = [quality.data, ...await Promise.all(roomList.slice(1).map((r) => api.sessionQuality(r.id).then((b) => b.data)))];
    const rooms = await Promise.all(roomList.map(async (r) => ({ ...r, participants: await allParticipants(r.id) })));
    const byPeer = new Map(qualities.flatMap((q) => q.peers.map((p) => [p.peer_id, p])));
    const now = Date.now();
    view.replaceChildren(
      el("p", { class: "crumbs" }, el("a", { href: "#/sessions" }, "Sessions"), " › ", s.meeting_display_name || short(s.id)),
      el("h1", {}, s.meeting_display_name || "Session", " ", el("span", { class: `badge ${s.status.toLowerCase()}` }, s.status)),
      el("dl", { class: "facts" },
        el("dt", {}, "Session"), el("dd", { class: "mono" }, s.id),
        el("dt", {}, "Meeting"), el("dd", { class: "mono" }, s.associated_id),
        el("dt", {}, "Started"), el("dd", {}, fmtTime(s.started_at)),
        el("dt", {}, "Ended"), el("dd", {}, s.ended_at ? fmtTime(s.ended_at) : "–"),
        el("dt", {}, "Minutes"), el("dd", {}, fmtMinutes(s.minutes_consumed)),
        el("dt", {}, "Participants"), el("dd", {}, s.status === "LIVE" ? `${s.live_participants} live, ` : "", `${s.max_concurrent_participants} at most`),
        el("dt", {}, "Breakout rooms"), el("dd", {}, String((s.breakout_rooms || []).length))),
      el("h2", {}, "Who was there when"), timeline(rooms, byPeer, now),
      el("h2", {}, "Participants, worst first"),
      el("p", { class: "hint" }, "Sorted by the lowest mean MOS of any stream; the first row is the participant who had the worst call. Open it for charts."),
      participantTable(rooms, byPeer),
      await conversation(s.id, quality.data));
    state.page = { name: "session", id: s.id, status: s.status, peers: rooms.flatMap((r) => r.participants.map((p) => p.id)), refreshedAt: Date.now() };
    return s.status;
  };
  const status = await load();
  state.timings.session = performance.now() - t0;
  if (status === "LIVE") every(5000, () => load().catch(() => {}));
}
