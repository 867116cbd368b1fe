// Every realtimeKit.webhooks method of the official Cloudflare TypeScript SDK (npm `cloudflare`,
// unmodified) against a live rtk-sessions server, and a received webhook verified with node's crypto
// and the published key. Run by tests/webhooks/test_sdk_typescript.py:
//
//   BASE_URL=http://127.0.0.1:PORT/client/v4 ACCOUNT_ID=... APP_ID=... TOKEN=... EXPECTATIONS=x.json \
//     node --test tests/sdk-ts/webhooks.test.mjs

import assert from 'node:assert/strict';
import { createVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import Cloudflare from 'cloudflare';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

const BASE_URL = env('BASE_URL');
const ACCOUNT_ID = env('ACCOUNT_ID');
const APP_ID = env('APP_ID');
const X = JSON.parse(readFileSync(env('EXPECTATIONS'), 'utf8'));
const client = new Cloudflare({ apiToken: env('TOKEN'), baseURL: BASE_URL, maxRetries: 0, timeout: 30_000 });
const hooks = client.realtimeKit.webhooks;
const kw = { account_id: ACCOUNT_ID, app_id: APP_ID };

test('create, list, get, edit, replace and delete a webhook', async () => {
  const created = await hooks.createWebhook(APP_ID, {
    account_id: ACCOUNT_ID,
    name: 'ts backend',
    url: 'https://example.com/ts',
    events: ['meeting.started', 'meeting.ended', 'recording.statusUpdate'],
  });
  assert.equal(created.success, true);
  const hook = created.data;
  assert.equal(hook.name, 'ts backend');
  assert.equal(hook.enabled, true);
  assert.deepEqual(hook.events, ['meeting.started', 'meeting.ended', 'recording.statusUpdate']);

  const listed = await hooks.getWebhooks(APP_ID, { account_id: ACCOUNT_ID });
  assert.ok(listed.data.some((h) => h.id === hook.id));

  const got = await hooks.getWebhookByID(hook.id, kw);
  assert.deepEqual(got.data, hook);

  const edited = await hooks.editWebhook(hook.id, { ...kw, enabled: false, events: ['meeting.summary'] });
  assert.equal(edited.data.enabled, false);
  assert.deepEqual(edited.data.events, ['meeting.summary']);
  assert.equal(edited.data.url, hook.url);

  const replaced = await hooks.replaceWebhook(hook.id, {
    ...kw,
    name: 'ts replaced',
    url: 'http://example.org/y',
    events: ['meeting.participantLeft'],
  });
  assert.equal(replaced.data.name, 'ts replaced');
  assert.equal(replaced.data.enabled, true);

  const deleted = await hooks.deleteWebhook(hook.id, kw);
  assert.equal(deleted.data.id, hook.id);
  await assert.rejects(hooks.getWebhookByID(hook.id, kw), (err) => {
    assert.ok(err instanceof Cloudflare.NotFoundError);
    assert.equal(err.status, 404);
    return true;
  });
  await assert.rejects(
    hooks.createWebhook(APP_ID, { account_id: ACCOUNT_ID, name: 'x', url: 'ftp://example.com/', events: ['meeting.started'] }),
    (err) => {
      assert.ok(err instanceof Cloudflare.BadRequestError);
      assert.equal(err.status, 400);
      assert.match(err.errors[0].message, /http or https/);
      return true;
    },
  );
});

test('a received webhook verifies with the published key', async () => {
  const response = await fetch(`${X.server_url}/.well-known/webhooks.json`);
  assert.equal(response.status, 200);
  const { public_key: pem } = await response.json();
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
  const body = Buffer.from(X.received.body_base64, 'base64');
  const verifier = createVerify('RSA-SHA256');
  verifier.update(body);
  assert.equal(verifier.verify(pem, X.received.signature, 'base64'), true);
  const tampered = createVerify('RSA-SHA256');
  tampered.update(Buffer.concat([body, Buffer.from(' ')]));
  assert.equal(tampered.verify(pem, X.received.signature, 'base64'), false);
  assert.equal(JSON.parse(body.toString('utf8')).event, X.received.event);
});
