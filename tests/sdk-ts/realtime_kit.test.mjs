// Presets, the active session (with kicks), org analytics and the unsupported routes through the
// official Cloudflare TypeScript SDK (npm `cloudflare` 7.x, unmodified) against a live server. Run by
// tests/api/test_sdk_typescript_realtime_kit.py, which prepares a meeting whose participants have
// joined, sessions on known days, and writes the expectations to the JSON file EXPECTATIONS.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import Cloudflare from 'cloudflare';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

const BASE_URL = env('BASE_URL');
const X = JSON.parse(readFileSync(env('EXPECTATIONS'), 'utf8'));
const client = new Cloudflare({ apiToken: X.token, baseURL: BASE_URL, maxRetries: 0, timeout: 30_000 });
const kit = client.realtimeKit;
const kw = { account_id: X.account_id, app_id: X.app_id };

async function rejectsWith(promise, status, pattern) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof Cloudflare.APIError, `${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.error?.success, false);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

const CONFIG = {
  view_type: 'WEBINAR',
  max_screenshare_count: 1,
  max_video_streams: { desktop: 9, mobile: 4 },
  media: { screenshare: { frame_rate: 5, quality: 'hd' }, video: { frame_rate: 30, quality: 'hd' } },
};
const PERMISSIONS = { kick_participant: true, media: { audio: { can_produce: 'ALLOWED' } } };
const UI = { design_tokens: { theme: 'dark', border_radius: 'rounded' } };

test('presets: create, get, list, update, replace, delete', async () => {
  const presets = kit.presets;
  const created = (await presets.create(X.app_id, {
    account_id: X.account_id, name: 'ts_host', config: CONFIG, permissions: PERMISSIONS, ui: UI,
  })).data;
  assert.equal(created.name, 'ts_host');
  assert.deepEqual(created.config, CONFIG);
  assert.deepEqual(created.permissions, PERMISSIONS);
  assert.deepEqual(created.ui, UI);
  const got = (await presets.getPresetByID(created.id, kw)).data;
  assert.deepEqual(got, created);
  const listed = await presets.get(X.app_id, { account_id: X.account_id, search: 'ts_' });
  assert.deepEqual(listed.data.map((p) => p.name), ['ts_host']);
  assert.equal(listed.paging.total_count, 1);
  const patched = (await presets.update(created.id, { ...kw, config: { view_type: 'GROUP_CALL' } })).data;
  assert.equal(patched.config.view_type, 'GROUP_CALL');
  assert.deepEqual(patched.config.media, CONFIG.media);
  const replaced = (await presets.replacePresetByID(created.id, {
    ...kw, name: 'ts_host2', config: { view_type: 'AUDIO_ROOM' }, permissions: {}, ui: {},
  })).data;
  assert.deepEqual([replaced.name, replaced.config, replaced.permissions], ['ts_host2', { view_type: 'AUDIO_ROOM' }, {}]);
  const deleted = (await presets.delete(created.id, kw)).data;
  assert.equal(deleted.id, created.id);
  await rejectsWith(presets.getPresetByID(created.id, kw), 404, /Preset/);
  await rejectsWith(presets.create(X.app_id, {
    account_id: X.account_id, name: 'bad', config: { view_type: 'THEATRE' }, permissions: {}, ui: {},
  }), 400, /view_type/);
});

test('analytics: day stats from stored sessions, recording stats zero', async () => {
  const data = (await kit.analytics.getOrgAnalytics(X.app_id, {
    account_id: X.account_id, start_date: X.analytics.start_date, end_date: X.analytics.end_date,
  })).data;
  assert.equal(data.session_stats.sessions_count, X.analytics.sessions_count);
  assert.equal(data.session_stats.sessions_minutes_consumed, X.analytics.minutes);
  assert.deepEqual(data.session_stats.day_stats, X.analytics.day_stats);
  assert.equal(data.recording_stats.recording_count, 0);
  assert.equal(data.recording_stats.recording_minutes_consumed, 0);
  await rejectsWith(kit.analytics.getOrgAnalytics(X.app_id, {
    account_id: X.account_id, start_date: '2026-03-05', end_date: '2026-03-01',
  }), 400);
});

test('active session: get, kick, kick all; polls are 501', async () => {
  const active = kit.activeSession;
  const live = (await active.getActiveSession(X.meeting_id, kw)).data;
  assert.equal(live.status, 'LIVE');
  assert.equal(live.associated_id, X.meeting_id);
  assert.equal(live.live_participants, X.people.length);
  const [first, ...rest] = X.people;
  const kicked = (await active.kickParticipants(X.meeting_id, {
    ...kw, custom_participant_ids: [first.custom_participant_id],
  })).data;
  assert.equal(kicked.action, 'kick');
  assert.deepEqual(kicked.participants.map((p) => p.id), [first.id]);
  // the kicked participant's token is refused at once
  const refused = await fetch(X.ingest_url, {
    method: 'POST',
    headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events: [{ id: 'ts-late', type: 'peer.left', timestamp: Date.now(), peer_id: first.peer_id }] }),
  });
  assert.equal(refused.status, 401);
  assert.equal((await active.getActiveSession(X.meeting_id, kw)).data.live_participants, rest.length);
  const all = (await active.kickAllParticipants(X.meeting_id, kw)).data;
  assert.deepEqual(all, { action: 'kick_all', kicked_participants_count: rest.length });
  await rejectsWith(active.createPoll(X.meeting_id, { ...kw, question: 'Lunch?', options: ['yes', 'no'] }), 501, /Polls are not supported/);
  await rejectsWith(active.getActiveSession('no-such-meeting', kw), 404, /Meeting/);
});

test('recordings and livestreams answer 501, not 404', async () => {
  await rejectsWith(kit.recordings.getRecordings(X.app_id, { account_id: X.account_id }), 501, /Recordings are not supported/);
  await rejectsWith(kit.livestreams.getAllLivestreams(X.app_id, { account_id: X.account_id }), 501, /Livestreams are not supported/);
});
