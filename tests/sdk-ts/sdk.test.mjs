// The official Cloudflare TypeScript SDK (npm `cloudflare`, unmodified) against a live rtk-sessions
// server. Run by tests/api/test_sdk_typescript.py, which prepares the data and writes what the answers
// must be to the JSON file named by EXPECTATIONS.
//
//   BASE_URL=http://127.0.0.1:PORT/client/v4 ACCOUNT_ID=... APP_ID=... TOKEN=... EXPECTATIONS=x.json \
//     node --test tests/sdk-ts/sdk.test.mjs

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import Cloudflare from 'cloudflare';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

const BASE_URL = env('BASE_URL');
const ACCOUNT_ID = env('ACCOUNT_ID');
const APP_ID = env('APP_ID');
const TOKEN = env('TOKEN');
const X = JSON.parse(readFileSync(env('EXPECTATIONS'), 'utf8'));

const sdk = (apiToken) => new Cloudflare({ apiToken, baseURL: BASE_URL, maxRetries: 0, timeout: 30_000 });
const client = sdk(TOKEN);
const sessions = client.realtimeKit.sessions;
const kw = { account_id: ACCOUNT_ID, app_id: APP_ID };
const ALL_KEYS = ['relay', 'firefox', 'pair', 'conversation'];
const allIds = () => new Set(ALL_KEYS.map((k) => X[k].session_id));

// ---- helpers ---------------------------------------------------------------------------------

function approx(actual, expected, tol, message) {
  assert.equal(typeof actual, 'number', `${message}: ${actual} is not a number`);
  assert.ok(Math.abs(actual - expected) <= tol, `${message}: ${actual} != ${expected} (±${tol})`);
}

function approxObject(actual, expected, tol, message) {
  assert.deepEqual(Object.keys(actual ?? {}).sort(), Object.keys(expected).sort(), `${message}: keys`);
  for (const [key, value] of Object.entries(expected)) approx(actual[key], value, tol, `${message}.${key}`);
}

/** The promise rejects with an instance of `cls` carrying `status` and the hybrid error body. */
async function rejectsWith(promise, cls, status) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
    assert.ok(err instanceof Cloudflare.APIError);
    assert.equal(err.status, status);
    assert.ok(Array.isArray(err.errors) && err.errors.length >= 1, `errors[] in ${JSON.stringify(err.error)}`);
    assert.equal(typeof err.errors[0].message, 'string');
    assert.equal(err.error?.success, false);
    return true;
  });
}

async function download(url) {
  assert.equal(typeof url, 'string', `download URL: ${url}`);
  assert.ok(url.startsWith(`${X.server_url}/downloads/`), url);
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  return { type: response.headers.get('content-type') ?? '', text: await response.text() };
}

function assertExpiry(value) {
  assert.match(value, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const left = Date.parse(value) - Date.now();
  assert.ok(left > 59 * 60_000 && left <= 3600_000 + 5_000, `expiry ${value} is not ~1 h away`);
}

/** RFC 4180: quoted fields with commas, doubled quotes and line breaks; CRLF or LF rows. */
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { /* CR of CRLF */ }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [header, ...body] = rows;
  return { header, rows: body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]]))) };
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// ---- sessions: list ----------------------------------------------------------------------------

describe('getSessions', () => {
  test('everything, default order createdAt DESC, top-level paging', async () => {
    const all = await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: 100 });
    assert.equal(all.success, true);
    assert.deepEqual(all.paging, { start_offset: 1, end_offset: X.total_sessions, total_count: X.total_sessions });
    const list = all.data.sessions;
    assert.deepEqual(new Set(list.map((s) => s.id)), allIds());
    const created = list.map((s) => s.created_at);
    assert.deepEqual(created, [...created].sort().reverse());
    for (const s of list) {
      assert.equal(s.organization_id, APP_ID);
      assert.equal(s.status, 'ENDED');
      assert.equal(s.live_participants, 0);
      assert.ok(['meeting', 'livestream', 'participant'].includes(s.type), s.type);
      for (const key of ['created_at', 'updated_at', 'started_at', 'ended_at']) assert.match(s[key], ISO_MS, key);
      assert.equal('breakout_rooms' in s, false);
    }
    const relay = list.find((s) => s.id === X.relay.session_id);
    assert.equal(relay.associated_id, X.relay.meeting_id);
    assert.equal(relay.meeting_display_name, X.relay.title);
    assert.equal(relay.minutes_consumed, X.relay.duration);
  });

  test('pages, sort order and sort_by', async () => {
    const all = (await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: 100 })).data.sessions;
    const page = await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: 2, page_no: 2, sort_order: 'ASC' });
    assert.deepEqual(page.data.sessions.map((s) => s.id), [...all].reverse().slice(2, 4).map((s) => s.id));
    assert.deepEqual(page.paging, { start_offset: 3, end_offset: 4, total_count: X.total_sessions });
    const first = await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: 3 });
    assert.deepEqual(first.data.sessions.map((s) => s.id), all.slice(0, 3).map((s) => s.id));
    assert.deepEqual(first.paging, { start_offset: 1, end_offset: 3, total_count: X.total_sessions });
    const beyond = await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: 2, page_no: 50 });
    assert.deepEqual(beyond.data.sessions, []);
    assert.equal(beyond.paging.start_offset, 0);
    assert.equal(beyond.paging.end_offset, 0);
    assert.equal(beyond.paging.total_count, X.total_sessions);

    const byMinutes = await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, sort_by: 'minutesConsumed', per_page: 100 });
    const minutes = byMinutes.data.sessions.map((s) => s.minutes_consumed);
    assert.deepEqual(minutes, [...minutes].sort((a, b) => b - a));
    const asc = await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, sort_by: 'minutesConsumed', sort_order: 'ASC', per_page: 100 });
    assert.deepEqual(asc.data.sessions.map((s) => s.minutes_consumed), [...minutes].reverse());
  });

  test('filters: search, associated_id, status, participants, time range', async () => {
    const q = (params) => sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: 100, ...params });
    // TS encodes the space as %20
    assert.deepEqual((await q({ search: 'two RECORDED' })).data.sessions.map((s) => s.id), [X.pair.session_id]);
    assert.deepEqual((await q({ search: X.relay.session_id.slice(0, 8) })).data.sessions.map((s) => s.id), [X.relay.session_id]);
    assert.deepEqual((await q({ associated_id: X.pair.meeting_id })).data.sessions.map((s) => s.id), [X.pair.session_id]);
    assert.deepEqual((await q({ status: 'LIVE' })).data.sessions, []);
    assert.equal((await q({ status: 'ENDED' })).paging.total_count, X.total_sessions);

    const two = (await q({ participants: '2:' })).data.sessions;
    assert.ok(two.every((s) => s.max_concurrent_participants >= 2));
    assert.ok(two.some((s) => s.id === X.conversation.session_id));
    assert.equal(two.some((s) => s.id === X.pair.session_id), X.pair.max_concurrent === 2);
    const one = (await q({ participants: '1:1' })).data.sessions;
    assert.ok(one.some((s) => s.id === X.relay.session_id) && one.every((s) => s.max_concurrent_participants === 1));

    const all = (await q({})).data.sessions;
    const firstCreated = all.map((s) => s.created_at).sort()[0];
    const same = new Set(all.filter((s) => s.created_at === firstCreated).map((s) => s.id));
    const exact = (await q({ start_time: firstCreated, end_time: firstCreated })).data.sessions;
    assert.deepEqual(new Set(exact.map((s) => s.id)), same);
    const later = new Date(Date.parse(firstCreated) + 1).toISOString();
    const after = await q({ start_time: later });
    assert.equal(after.paging.total_count, X.total_sessions - same.size);
    assert.deepEqual((await q({ end_time: '2000-01-01T00:00:00Z' })).data.sessions, []);
  });

  test('bad parameters are 400 (BadRequestError)', async () => {
    await rejectsWith(sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, sort_by: 'title' }), Cloudflare.BadRequestError, 400);
    await rejectsWith(sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, sort_order: 'down' }), Cloudflare.BadRequestError, 400);
    await rejectsWith(sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, start_time: 'yesterday' }), Cloudflare.BadRequestError, 400);
    await rejectsWith(sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: -1 }), Cloudflare.BadRequestError, 400);
    await rejectsWith(
      sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, start_time: '2024-02-01T00:00:00Z', end_time: '2024-01-01T00:00:00Z' }),
      Cloudflare.BadRequestError, 400);
  });
});

// ---- sessions: one session -------------------------------------------------------------------

describe('getSessionDetails', () => {
  test('a recorded single-peer session equals the independent computation', async () => {
    const details = await sessions.getSessionDetails(X.relay.session_id, kw);
    assert.equal(details.success, true);
    const s = details.data;
    assert.equal(s.id, X.relay.session_id);
    assert.equal(s.associated_id, X.relay.meeting_id);
    assert.equal(s.meeting_display_name, X.relay.title);
    assert.equal(s.organization_id, APP_ID);
    assert.equal(s.status, 'ENDED');
    assert.equal(s.minutes_consumed, X.relay.duration);
    assert.equal(s.max_concurrent_participants, 1);
    assert.equal(s.live_participants, 0);
    assert.equal(s.started_at, X.relay.joined_at);
    assert.match(s.ended_at, ISO_MS);
    assert.equal('breakout_rooms' in s, false);
  });

  test('two recorded clients, breakout rooms on request', async () => {
    const s = (await sessions.getSessionDetails(X.pair.session_id, { ...kw, include_breakout_rooms: true })).data;
    approx(s.minutes_consumed, X.pair.minutes_consumed, 2e-4, 'minutes_consumed');
    assert.equal(s.max_concurrent_participants, X.pair.max_concurrent);
    assert.deepEqual(s.breakout_rooms, []);
    const c = (await sessions.getSessionDetails(X.conversation.session_id, kw)).data;
    assert.equal(c.max_concurrent_participants, 2);
    assert.equal(c.minutes_consumed, 2);  // two people, one minute each
    assert.equal(c.started_at, X.conversation.session_start);
  });

  test('unknown session, other app, bad boolean', async () => {
    await rejectsWith(sessions.getSessionDetails('no-such-session', kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionDetails(X.relay.session_id, { ...kw, app_id: 'no-such-app' }), Cloudflare.NotFoundError, 404);
    await rejectsWith(
      sessions.getSessionDetails(X.relay.session_id, kw, { query: { include_breakout_rooms: 'maybe' } }),
      Cloudflare.BadRequestError, 400);
  });
});

// ---- sessions: participants ------------------------------------------------------------------

describe('getSessionParticipants / getSessionParticipantDetails', () => {
  test('list with peer events, paging in data and at the top', async () => {
    const listed = await sessions.getSessionParticipants(X.pair.session_id, { ...kw, include_peer_events: true });
    const people = listed.data.participants;
    assert.deepEqual(new Set(people.map((p) => p.id)), new Set(X.pair.peer_ids));
    const joined = people.map((p) => p.joined_at);
    assert.deepEqual(joined, [...joined].sort());  // default joinedAt ASC
    for (const p of people) {
      assert.deepEqual(p.peer_events.map((e) => e.event_name), ['PEER_CREATED', 'PEER_JOINING', 'PEER_LEAVING']);
      assert.equal(p.peer_events.at(-1).minutes_consumed, p.duration);
      assert.ok(p.peer_events.every((e) => e.peer_id === p.id && e.session_id === X.pair.session_id));
      assert.match(p.left_at, ISO_MS);
    }
    const paging = { start_offset: 1, end_offset: 2, total_count: 2 };
    assert.deepEqual(listed.data.paging, paging);
    assert.deepEqual(listed.paging, paging);

    const byDuration = await sessions.getSessionParticipants(X.pair.session_id, { ...kw, sort_by: 'duration', sort_order: 'DESC' });
    assert.deepEqual(byDuration.data.participants.map((p) => p.duration), X.pair.durations_desc);
    assert.ok(byDuration.data.participants.every((p) => !('peer_events' in p)));

    const second = await sessions.getSessionParticipants(X.pair.session_id, { ...kw, per_page: 1, page_no: 2 });
    assert.deepEqual(second.data.participants.map((p) => p.id), [people[1].id]);
    assert.deepEqual(second.paging, { start_offset: 2, end_offset: 2, total_count: 2 });

    const consolidated = await sessions.getSessionParticipants(X.pair.session_id, { ...kw, view: 'consolidated' });
    assert.equal(consolidated.data.participants.length, 2);
    const raw = await sessions.getSessionParticipants(X.pair.session_id, { ...kw, view: 'raw' });
    assert.equal(raw.data.participants.length, 2);
  });

  test('identity fields and search over the ingested conversation', async () => {
    const c = X.conversation;
    const people = (await sessions.getSessionParticipants(c.session_id, kw)).data.participants;
    const ada = people.find((p) => p.id === c.chat[0].participantId);
    assert.equal(ada.user_id, 'user-ada');
    assert.equal(ada.custom_participant_id, 'ada@example.com');
    assert.equal(ada.display_name, c.chat[0].displayName);
    assert.equal(ada.preset_name, 'group_call_host');
    assert.equal(ada.duration, 1);
    const found = await sessions.getSessionParticipants(c.session_id, { ...kw, search: 'ÅNGSTRÖM' });
    assert.deepEqual(found.data.participants.map((p) => p.id), [c.chat[1].participantId]);
    const byCustom = await sessions.getSessionParticipants(c.session_id, { ...kw, search: 'ada@example' });
    assert.deepEqual(byCustom.data.participants.map((p) => p.id), [ada.id]);
  });

  test('one participant', async () => {
    const peer = X.firefox.peer_id;
    const one = await sessions.getSessionParticipantDetails(peer, { ...kw, session_id: X.firefox.session_id });
    const p = one.data.participant;
    assert.equal(p.id, peer);
    assert.equal(p.duration, X.firefox.duration);
    assert.equal(p.joined_at, X.firefox.joined_at);
    assert.equal('peer_events' in p, false);
    const withEvents = await sessions.getSessionParticipantDetails(peer, { ...kw, session_id: X.firefox.session_id, include_peer_events: true });
    assert.deepEqual(withEvents.data.participant.peer_events.map((e) => e.event_name), ['PEER_CREATED', 'PEER_JOINING', 'PEER_LEAVING']);
    await rejectsWith(sessions.getSessionParticipantDetails(peer, { ...kw, session_id: X.relay.session_id }), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionParticipantDetails('nobody', { ...kw, session_id: X.firefox.session_id }), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionParticipants('no-such-session', kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionParticipants(X.pair.session_id, { ...kw, sort_by: 'name' }), Cloudflare.BadRequestError, 400);
  });
});

// ---- sessions: peer report -------------------------------------------------------------------

describe('getParticipantDataFromPeerID', () => {
  for (const key of ['relay', 'firefox']) {
    test(`${key}: duration and quality equal the independent computation`, async () => {
      const e = X[key];
      const report = await sessions.getParticipantDataFromPeerID(e.peer_id, kw);
      const p = report.data.participant;
      assert.equal(p.id, e.peer_id);
      assert.equal(p.session_id, e.session_id);
      assert.equal(p.duration, e.duration);
      const quality = p.peer_report.quality;
      for (const [kind, want] of Object.entries(e.quality)) {
        assert.equal((quality[kind] ?? []).length, want.rows, `${kind} rows`);
        const block = quality[`${kind}_cumulative`];
        if (want.rows === 0) {
          assert.deepEqual(block, {}, kind);
          continue;
        }
        approxObject(block.packet_loss, want.packet_loss, 1e-4, `${kind} packet_loss`);
        if (want.rtt) approxObject(block.rtt, want.rtt, 1e-4, `${kind} rtt`);
      }
    });
  }

  test('metadata, filters, peer events, unknown peer', async () => {
    const peer = X.relay.peer_id;
    const full = (await sessions.getParticipantDataFromPeerID(peer, kw)).data.participant;
    const meta = full.peer_report.metadata;
    assert.equal(meta.browser_metadata.browser, 'Chrome');
    assert.equal(meta.device_info.os, 'macOS');
    const pairs = [...meta.candidate_pairs.consuming_transport, ...meta.candidate_pairs.producing_transport];
    assert.ok(pairs.some((c) => c.local_candidate_type === 'relay'));
    assert.ok(meta.events.length > 0);

    const quality = (await sessions.getParticipantDataFromPeerID(peer, { ...kw, filters: 'quality_stats' })).data.participant.peer_report;
    assert.deepEqual(quality.metadata, {});
    assert.equal(quality.quality.video_consumer.length, X.relay.quality.video_consumer.rows);

    const events = (await sessions.getParticipantDataFromPeerID(peer, { ...kw, filters: 'events' })).data.participant.peer_report;
    assert.deepEqual(Object.keys(events.metadata), ['events']);

    const withEvents = (await sessions.getParticipantDataFromPeerID(peer, { ...kw, include_peer_events: true })).data.participant;
    assert.deepEqual(withEvents.peer_events.map((e) => e.event_name), ['PEER_CREATED', 'PEER_JOINING', 'PEER_LEAVING']);

    await rejectsWith(sessions.getParticipantDataFromPeerID('no-such-peer', kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getParticipantDataFromPeerID(peer, { ...kw, filters: 'everything' }), Cloudflare.BadRequestError, 400);
  });
});

// ---- sessions: chat, transcript, summary -----------------------------------------------------

describe('getSessionChat', () => {
  test('a signed URL to the chat CSV with what was ingested', async () => {
    const c = X.conversation;
    const chat = await sessions.getSessionChat(c.session_id, kw);
    assert.equal(chat.success, true);
    assert.ok(chat.data.chat_download_url.startsWith(`${X.server_url}/downloads/chat/`), chat.data.chat_download_url);
    assertExpiry(chat.data.chat_download_url_expiry);
    const file = await download(chat.data.chat_download_url);
    assert.ok(file.type.startsWith('text/csv'), file.type);
    const { header, rows } = parseCsv(file.text);
    assert.deepEqual(header, c.chat_columns);
    assert.deepEqual(rows.map((r) => r.id), c.chat.map((m) => m.id));
    for (const [i, want] of c.chat.entries()) {
      for (const [key, value] of Object.entries(want)) assert.equal(rows[i][key], value, `${want.id}.${key}`);
    }
  });

  test('empty chat is a header-only file; unknown session is 404', async () => {
    const chat = await sessions.getSessionChat(X.relay.session_id, kw);
    const { header, rows } = parseCsv((await download(chat.data.chat_download_url)).text);
    assert.deepEqual(header, X.conversation.chat_columns);
    assert.deepEqual(rows, []);
    await rejectsWith(sessions.getSessionChat('no-such-session', kw), Cloudflare.NotFoundError, 404);
  });
});

describe('getSessionTranscripts', () => {
  const c = X.conversation;
  const texts = c.transcript.map((t) => t.text);

  test('CSV (default)', async () => {
    const t = await sessions.getSessionTranscripts(c.session_id, kw);
    assert.equal(t.success, true);
    assert.equal(t.data.sessionId, c.session_id);
    assertExpiry(t.data.transcript_download_url_expiry);
    assert.ok(t.data.transcript_download_url.startsWith(`${X.server_url}/downloads/transcript/`));
    const file = await download(t.data.transcript_download_url);
    assert.ok(file.type.startsWith('text/csv'), file.type);
    const { header, rows } = parseCsv(file.text);
    assert.deepEqual(header, c.transcript_columns);
    assert.deepEqual(rows.map((r) => r.Transcript), texts);
    assert.deepEqual(rows.map((r) => r['Participant ID']), c.transcript.map((t) => t.participantId));
    assert.deepEqual(rows.map((r) => r['Participant Name']), c.transcript.map((t) => t.name));
    assert.deepEqual(rows.map((r) => r['User ID']), c.transcript.map((t) => t.userId));
    assert.deepEqual(rows.map((r) => r.Timestamp), c.transcript.map((t) => t.startTime));
  });

  test('JSON', async () => {
    const t = await sessions.getSessionTranscripts(c.session_id, { ...kw, format: 'JSON' });
    assert.ok(new URL(t.data.transcript_download_url).pathname.endsWith('.json'));
    const doc = JSON.parse((await download(t.data.transcript_download_url)).text);
    assert.equal(doc.sessionId, c.session_id);
    assert.equal(doc.sessionStart, c.session_start);
    assert.deepEqual(doc.transcript.map((s) => s.text), texts);
    assert.deepEqual(doc.transcript.map((s) => s.startOffsetMs), c.transcript.map((s) => s.startOffsetMs));
    assert.deepEqual(doc.transcript.map((s) => s.endOffsetMs), c.transcript.map((s) => s.endOffsetMs));
    assert.deepEqual(doc.transcript.map((s) => s.language), c.transcript.map((s) => s.language));
    assert.deepEqual(doc.transcript.map((s) => s.participantId), c.transcript.map((s) => s.participantId));
  });

  test('SRT and VTT', async () => {
    const srt = await sessions.getSessionTranscripts(c.session_id, { ...kw, format: 'SRT' });
    const srtText = (await download(srt.data.transcript_download_url)).text;
    assert.match(srtText, /^1\r?\n00:00:30,000 --> 00:00:33,000\r?\n/);
    for (const text of texts) assert.ok(srtText.includes(text), text);
    const vtt = await sessions.getSessionTranscripts(c.session_id, { ...kw, format: 'VTT' });
    const file = await download(vtt.data.transcript_download_url);
    assert.ok(file.type.startsWith('text/vtt'), file.type);
    assert.ok(file.text.startsWith('WEBVTT'));
    assert.ok(file.text.includes('00:00:34.000 --> 00:00:38.000'));
    for (const text of texts) assert.ok(file.text.includes(text), text);
    assert.ok(!file.text.includes('INTERIM'));
  });

  test('no transcript is 404; a bad format is 400', async () => {
    await rejectsWith(sessions.getSessionTranscripts(X.pair.session_id, kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionTranscripts('no-such-session', kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionTranscripts(c.session_id, { ...kw, format: 'DOCX' }), Cloudflare.BadRequestError, 400);
  });
});

describe('generateSummaryOfTranscripts / getSessionSummary', () => {
  const c = X.conversation;

  test('not yet, then generated in the background (body-less POST), then downloadable', async () => {
    await rejectsWith(sessions.getSessionSummary(c.session_id, kw), Cloudflare.NotFoundError, 404);
    const started = await sessions.generateSummaryOfTranscripts(c.session_id, kw);
    assert.equal(started.success, true);
    assert.equal(started.data.session_id, c.session_id);
    assert.ok(['IN_PROGRESS', 'COMPLETED'].includes(started.data.status), started.data.status);

    let summary;
    const deadline = Date.now() + 60_000;
    while (!summary) {
      try {
        summary = await sessions.getSessionSummary(c.session_id, kw);
      } catch (err) {
        if (!(err instanceof Cloudflare.NotFoundError) || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    assert.equal(summary.success, true);
    assert.equal(summary.data.sessionId, c.session_id);
    assertExpiry(summary.data.summaryDownloadUrlExpiry);
    assert.ok(summary.data.summaryDownloadUrl.startsWith(`${X.server_url}/downloads/summary/`));
    const text = (await download(summary.data.summaryDownloadUrl)).text;
    assert.ok(text.trim().length > 0, 'empty summary');
    const words = ['quarterly', 'Revenue', 'budget', 'engineers', 'product'];
    assert.ok(words.some((w) => text.includes(w)), `summary says nothing of the transcript: ${text}`);
    assert.ok(!text.includes('INTERIM'));

    const again = await sessions.generateSummaryOfTranscripts(c.session_id, kw);
    assert.deepEqual(again.data, { session_id: c.session_id, status: 'COMPLETED' });
  });

  test('no transcript or unknown session is 404', async () => {
    await rejectsWith(sessions.generateSummaryOfTranscripts(X.pair.session_id, kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionSummary(X.pair.session_id, kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.generateSummaryOfTranscripts('no-such-session', kw), Cloudflare.NotFoundError, 404);
    await rejectsWith(sessions.getSessionSummary('no-such-session', kw), Cloudflare.NotFoundError, 404);
  });
});

// ---- authentication --------------------------------------------------------------------------

describe('authentication and tenancy', () => {
  test('bad token 401, another account 403, another app 404', async () => {
    await rejectsWith(sdk('not-a-token').realtimeKit.sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID }),
      Cloudflare.AuthenticationError, 401);
    await rejectsWith(sdk(TOKEN).realtimeKit.sessions.getSessions(X.aux.app_id, { account_id: X.aux.account_id }),
      Cloudflare.PermissionDeniedError, 403);
    const aux = sdk(X.aux.token).realtimeKit.sessions;
    await rejectsWith(aux.getSessionDetails(X.relay.session_id, { account_id: X.aux.account_id, app_id: X.aux.app_id }),
      Cloudflare.NotFoundError, 404);
    await rejectsWith(aux.getSessions(APP_ID, { account_id: X.aux.account_id }), Cloudflare.NotFoundError, 404);
    await rejectsWith(aux.getSessionChat(X.conversation.session_id, { account_id: X.aux.account_id, app_id: X.aux.app_id }),
      Cloudflare.NotFoundError, 404);
    // the client sends the token it was given, and the server sees it
    const { response } = await sessions.getSessions(APP_ID, { account_id: ACCOUNT_ID, per_page: 1 }).withResponse();
    assert.equal(response.status, 200);
    assert.ok(response.headers.get('content-type').startsWith('application/json'));
  });
});

// ---- apps ------------------------------------------------------------------------------------

describe('apps', () => {
  test('get and post', async () => {
    const apps = client.realtimeKit.apps;
    const before = await apps.get({ account_id: ACCOUNT_ID });
    assert.equal(before.success, true);
    const mine = before.data.find((a) => a.id === APP_ID);
    assert.equal(mine?.name, 'ts-sdk');
    assert.match(mine.created_at, ISO_MS);
    const count = before.paging.total_count;
    assert.equal(count, before.data.length);

    const name = `TS app ${Date.now()}`;
    const created = await apps.post({ account_id: ACCOUNT_ID, name });
    assert.equal(created.success, true);
    assert.equal(created.data.app.name, name);
    assert.ok(created.data.app.id);
    assert.match(created.data.app.created_at, ISO_MS);

    const after = await apps.get({ account_id: ACCOUNT_ID, per_page: 100 });
    assert.equal(after.paging.total_count, count + 1);
    const found = await apps.get({ account_id: ACCOUNT_ID, search: name.toLowerCase() });
    assert.deepEqual(found.data.map((a) => a.id), [created.data.app.id]);
    const asc = await apps.get({ account_id: ACCOUNT_ID, sort_order: 'ASC', per_page: 1 });
    assert.equal(asc.data[0].id, APP_ID);
    assert.deepEqual(asc.paging, { start_offset: 1, end_offset: 1, total_count: count + 1 });

    // a new app is a new, empty scope
    const empty = await sessions.getSessions(created.data.app.id, { account_id: ACCOUNT_ID });
    assert.deepEqual(empty.data.sessions, []);
    await rejectsWith(apps.post({ account_id: ACCOUNT_ID }), Cloudflare.BadRequestError, 400);
  });
});

// ---- meetings and participants (on the aux tenant, so the sessions above stay as they are) -----

function jwtClaims(token) {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

async function ingest(token, events) {
  const url = `${BASE_URL}/accounts/${X.aux.account_id}/realtime/kit/${X.aux.app_id}/ingest`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  return { status: response.status, body: await response.json() };
}

describe('meetings', () => {
  const aux = sdk(X.aux.token);
  const meetings = aux.realtimeKit.meetings;
  const a = { account_id: X.aux.account_id, app_id: X.aux.app_id };

  test('create, list, get, update (PATCH), replace (PUT)', async () => {
    const created = await meetings.create(X.aux.app_id, {
      account_id: X.aux.account_id, title: 'Weekly sync', session_keep_alive_time_in_secs: 5,
      persist_chat: true, summarize_on_end: true,
      ai_config: { summarization: { word_limit: 120, text_format: 'plain_text' } },
    });
    assert.equal(created.success, true);
    const m = created.data;
    assert.equal(m.title, 'Weekly sync');
    assert.equal(m.status, 'ACTIVE');
    assert.equal(m.session_keep_alive_time_in_secs, 5);
    assert.equal(m.persist_chat, true);
    assert.equal(m.summarize_on_end, true);
    assert.equal(m.ai_config.summarization.word_limit, 120);
    assert.match(m.created_at, ISO_MS);
    assert.match(m.updated_at, ISO_MS);

    const other = (await meetings.create(X.aux.app_id, { account_id: X.aux.account_id, title: 'Retro' })).data;
    const listed = await meetings.get(X.aux.app_id, { account_id: X.aux.account_id });
    assert.ok(Array.isArray(listed.data));
    assert.ok(listed.data.some((x) => x.id === m.id) && listed.data.some((x) => x.id === other.id));
    assert.equal(listed.paging.start_offset, 1);
    assert.equal(listed.paging.total_count, listed.data.length);
    const found = await meetings.get(X.aux.app_id, { account_id: X.aux.account_id, search: 'weekly SYNC' });
    assert.deepEqual(found.data.map((x) => x.id), [m.id]);
    const paged = await meetings.get(X.aux.app_id, { account_id: X.aux.account_id, per_page: 1, page_no: 2 });
    assert.equal(paged.data.length, 1);
    assert.deepEqual(paged.paging, { start_offset: 2, end_offset: 2, total_count: listed.paging.total_count });

    const fetched = (await meetings.getMeetingByID(m.id, a)).data;
    assert.equal(fetched.id, m.id);
    assert.equal(fetched.title, 'Weekly sync');

    const patched = (await meetings.updateMeetingByID(m.id, { ...a, title: 'Weekly', status: 'INACTIVE' })).data;
    assert.deepEqual([patched.title, patched.status, patched.persist_chat], ['Weekly', 'INACTIVE', true]);
    const inactive = await meetings.get(X.aux.app_id, { account_id: X.aux.account_id, status: 'INACTIVE' });
    assert.deepEqual(inactive.data.map((x) => x.id), [m.id]);

    const replaced = (await meetings.replaceMeetingByID(m.id, { ...a, title: 'Fresh' })).data;
    assert.deepEqual([replaced.title, replaced.persist_chat, replaced.session_keep_alive_time_in_secs], ['Fresh', false, 60]);
    assert.equal((await meetings.getMeetingByID(m.id, a)).data.title, 'Fresh');

    await rejectsWith(meetings.getMeetingByID('no-such-meeting', a), Cloudflare.NotFoundError, 404);
    await rejectsWith(meetings.updateMeetingByID('no-such-meeting', { ...a, title: 'x' }), Cloudflare.NotFoundError, 404);
    await rejectsWith(meetings.create(X.aux.app_id, { account_id: X.aux.account_id, session_keep_alive_time_in_secs: -1 }),
      Cloudflare.BadRequestError, 400);
    await rejectsWith(meetings.create(X.aux.app_id, { account_id: X.aux.account_id, persist_chat: 'yes' }),
      Cloudflare.BadRequestError, 400);
  });

  test('participants, tokens, and the session their joins make', async () => {
    const meeting = (await meetings.create(X.aux.app_id, { account_id: X.aux.account_id, title: 'Pairing' })).data;
    const mp = { ...a, meeting_id: meeting.id };
    const added = (await meetings.addParticipant(meeting.id, {
      ...a, custom_participant_id: 'ada@example.com', preset_name: 'group_call_host', name: 'Ada',
    })).data;
    assert.equal(added.custom_participant_id, 'ada@example.com');
    assert.equal(added.preset_name, 'group_call_host');
    assert.equal(added.name, 'Ada');
    assert.match(added.created_at, ISO_MS);
    const claims = jwtClaims(added.token);
    assert.equal(claims.sub, added.id);
    assert.equal(claims.mtg, meeting.id);
    assert.ok(claims.exp > Date.now() / 1000);

    const listed = await meetings.getMeetingParticipants(meeting.id, a);
    assert.deepEqual(listed.data.map((p) => p.id), [added.id]);
    assert.equal('token' in listed.data[0], false);
    assert.deepEqual(listed.paging, { start_offset: 1, end_offset: 1, total_count: 1 });
    const bob = (await meetings.addParticipant(meeting.id, { ...a, custom_participant_id: 'bob', preset_name: 'p' })).data;
    const page2 = await meetings.getMeetingParticipants(meeting.id, { ...a, per_page: 1, page_no: 2 });
    assert.equal(page2.data.length, 1);
    assert.deepEqual(page2.paging, { start_offset: 2, end_offset: 2, total_count: 2 });
    assert.deepEqual(new Set([...listed.data, ...page2.data].map((p) => p.id)).size, 2);
    assert.ok([added.id, bob.id].includes(page2.data[0].id));

    const got = (await meetings.getMeetingParticipant(added.id, mp)).data;
    assert.equal(got.preset_name, 'group_call_host');
    assert.equal('token' in got, false);
    const edited = (await meetings.editParticipant(added.id, { ...mp, name: 'Ada L.' })).data;
    assert.equal(edited.name, 'Ada L.');
    assert.equal(edited.custom_participant_id, 'ada@example.com');

    const refreshed = (await meetings.refreshParticipantToken(added.id, mp)).data;  // body-less POST
    assert.ok(refreshed.token && refreshed.token !== added.token);
    const now = Date.now();
    const join = { id: 'ts-join', type: 'peer.joined', timestamp: now - 5000, peer_id: 'ts-ada-peer' };
    assert.equal((await ingest(added.token, [join])).status, 401);  // replaced by the refresh
    const ok = await ingest(refreshed.token, [join]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.data, { accepted: 1, duplicates: 0 });

    // a participant token cannot read the API
    await rejectsWith(sdk(refreshed.token).realtimeKit.sessions.getSessions(X.aux.app_id, { account_id: X.aux.account_id }),
      Cloudflare.PermissionDeniedError, 403);

    // the join made a LIVE session of the meeting, carrying the meeting participant's identity
    const auxSessions = aux.realtimeKit.sessions;
    const live = await auxSessions.getSessions(X.aux.app_id, { account_id: X.aux.account_id, associated_id: meeting.id });
    assert.equal(live.data.sessions.length, 1);
    const s = live.data.sessions[0];
    assert.deepEqual([s.status, s.meeting_display_name, s.live_participants], ['LIVE', 'Pairing', 1]);
    assert.equal('ended_at' in s, false);
    const p = (await auxSessions.getSessionParticipantDetails('ts-ada-peer', { ...a, session_id: s.id, include_peer_events: true })).data.participant;
    assert.deepEqual([p.user_id, p.custom_participant_id, p.display_name, p.preset_name],
      [added.id, 'ada@example.com', 'Ada L.', 'group_call_host']);
    assert.equal('left_at' in p, false);
    assert.ok(p.peer_events.every((e) => e.participant_id === added.id));
    const report = (await auxSessions.getParticipantDataFromPeerID('ts-ada-peer', a)).data.participant;
    assert.equal(report.role, 'group_call_host');
    assert.equal(report.user_id, added.id);

    await rejectsWith(meetings.addParticipant(meeting.id, { ...a, custom_participant_id: 'x', preset_name: '' }),
      Cloudflare.BadRequestError, 400);
    await rejectsWith(meetings.addParticipant('no-such-meeting', { ...a, custom_participant_id: 'x', preset_name: 'p' }),
      Cloudflare.NotFoundError, 404);
    const deleted = await meetings.deleteMeetingParticipant(added.id, mp);
    assert.equal(deleted.success, true);
    assert.equal(deleted.data.custom_participant_id, 'ada@example.com');
    await rejectsWith(meetings.getMeetingParticipant(added.id, mp), Cloudflare.NotFoundError, 404);
    await rejectsWith(meetings.editParticipant(added.id, { ...mp, name: 'x' }), Cloudflare.NotFoundError, 404);
    await rejectsWith(meetings.refreshParticipantToken(added.id, mp), Cloudflare.NotFoundError, 404);
    await rejectsWith(meetings.deleteMeetingParticipant(added.id, mp), Cloudflare.NotFoundError, 404);
    assert.equal((await ingest(refreshed.token, [{ ...join, id: 'ts-join-2' }])).status, 401);  // participant gone
    const left = await meetings.getMeetingParticipants(meeting.id, a);
    assert.deepEqual(left.data.map((x) => x.id), [bob.id]);
  });
});
