// Signals: SIGHUP reloads the config (or keeps the old one when the new one is bad),
// SIGTERM drains in-flight streams and exits 0.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';

import { chatBody, kExpectedContent, postToDsgw, useGateway } from '../support/gateway.mjs';
import { openaiBackend, serverConfig } from '../support/harness.mjs';
import { collectSse, request } from '../support/http_client.mjs';

const chat = (dsgw, model) =>
  request(`${dsgw.url}/v1/chat/completions`, { method: 'POST', body: chatBody({ model }) });

// Starts a stream that the mock holds after its first chunks (no other stream may be held) and
// resolves once it is held upstream, with `finished`: a promise of the stream's content and
// whether it ended with [DONE].
async function startHeldStream(gateway, model = 'm1') {
  const res = await postToDsgw(gateway.dsgw, '/v1/chat/completions',
    chatBody({ model, stream: true, mock: { holdAfterChunks: 2 } }));
  assert.equal(res.statusCode, 200);
  const finished = collectSse(res).then((events) => ({
    content: events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join(''),
    done: events.at(-1)?.data === '[DONE]',
  }));
  finished.catch(() => {}); // awaited by the test; this only keeps an early failure from crashing the run
  await gateway.mock.waitForHeld(1);
  return { finished };
}

describe('SIGHUP', () => {
  const configWith = (backends) => ({ server: serverConfig(), backend: backends });
  const firstBackend = (gateway) => openaiBackend(gateway.mock.baseUrl);
  const secondBackend = (gateway) => openaiBackend(gateway.mock.baseUrl, { name: 'second', models: ['m2'] });
  const gateway = useGateway({ config: (gw) => configWith([firstBackend(gw)]) });

  it('swaps in a valid config: new backends serve new requests', async () => {
    assert.equal((await chat(gateway.dsgw, 'm2')).status, 404);
    const outcome = await gateway.dsgw.reload(configWith([firstBackend(gateway), secondBackend(gateway)]));
    assert.equal(outcome.event, 'config.reloaded', JSON.stringify(outcome));
    const response = await chat(gateway.dsgw, 'm2');
    assert.equal(response.status, 200, response.text);
    assert.equal(response.headers['x-dsgw-backend'], 'second');
    const models = (await request(`${gateway.dsgw.url}/v1/models`)).json.data.map((m) => m.id);
    assert.ok(models.includes('m2'), `m2 missing from /v1/models after reload: ${models}`);
  });

  for (const [label, badConfig] of [
    ['an unknown key', (gw) => ({ server: serverConfig({ no_such_key: 1 }), backend: [firstBackend(gw)] })],
    ['a bad base_url', () => configWith([openaiBackend('not a url')])],
    ['a TOML syntax error', () => '[server\nlisten = '],
  ]) {
    it(`rejects a config with ${label} and keeps serving the old one`, async () => {
      const outcome = await gateway.dsgw.reload(badConfig(gateway));
      assert.equal(outcome.event, 'config.reload_failed', JSON.stringify(outcome));
      assert.equal(typeof outcome.error, 'string');
      assert.ok(outcome.error.length > 0);
      for (const model of ['m1', 'm2']) assert.equal((await chat(gateway.dsgw, model)).status, 200, model);
      assert.equal(gateway.dsgw.exit, undefined, 'dsgw exited on a bad reload');
    });
  }

  it('lets a stream that started before a reload finish on the old config', async () => {
    const { finished } = await startHeldStream(gateway, 'm1');
    const outcome = await gateway.dsgw.reload(configWith([secondBackend(gateway)]));
    assert.equal(outcome.event, 'config.reloaded');
    assert.equal((await chat(gateway.dsgw, 'm1')).status, 404, 'the reload did not remove m1');
    gateway.mock.releaseHeld();
    assert.deepEqual(await finished, { content: kExpectedContent, done: true });
  });
});

describe('SIGTERM with a stream in flight', () => {
  const gateway = useGateway();

  it('stops accepting, lets the stream finish, and exits 0', async () => {
    const { finished } = await startHeldStream(gateway);
    gateway.dsgw.signal('SIGTERM');
    await gateway.dsgw.waitForLog('server.draining');

    const refused = await request(`${gateway.dsgw.url}/healthz`, { timeoutMs: 2000 })
      .then((r) => r.status, (err) => err.code ?? err.message);
    assert.ok(['ECONNREFUSED', 'ECONNRESET', 503].includes(refused), `a request during draining got ${refused}`);
    assert.equal(gateway.dsgw.exit, undefined, 'dsgw exited with a stream still in flight');

    gateway.mock.releaseHeld();
    assert.deepEqual(await finished, { content: kExpectedContent, done: true });
    assert.deepEqual(await gateway.dsgw.waitForExit(5000), { code: 0, signal: null });
    assert.ok(gateway.dsgw.logs.some((log) => log?.event === 'server.stopped'), 'no server.stopped line');
  });
});

describe('SIGTERM with a stream that outlives shutdown_grace_ms', () => {
  const kGraceMs = 1000;
  const gateway = useGateway({
    config: ({ mock }) => ({ server: serverConfig({ shutdown_grace_ms: kGraceMs }), backend: [openaiBackend(mock.baseUrl)] }),
  });

  it('exits 0 once the grace period is over', async () => {
    const { finished } = await startHeldStream(gateway);
    const start = performance.now();
    gateway.dsgw.signal('SIGTERM');
    assert.deepEqual(await gateway.dsgw.waitForExit(kGraceMs + 5000), { code: 0, signal: null });
    const elapsedMs = performance.now() - start;
    assert.ok(elapsedMs >= kGraceMs * 0.9, `exited after ${Math.round(elapsedMs)} ms, before the grace period ended`);
    assert.ok(elapsedMs < kGraceMs + 3000, `exited ${Math.round(elapsedMs)} ms after SIGTERM`);
    const result = await finished.catch((err) => ({ error: err.message }));
    assert.notEqual(result.done, true, 'the cut-off stream claimed to be complete');
  });
});

describe('SIGTERM when idle', () => {
  const gateway = useGateway();

  it('logs draining and stopped, and exits 0 promptly', async () => {
    const start = performance.now();
    gateway.dsgw.signal('SIGTERM');
    assert.deepEqual(await gateway.dsgw.waitForExit(5000), { code: 0, signal: null });
    assert.ok(performance.now() - start < 2000, 'idle shutdown was slow');
    const events = gateway.dsgw.logs.map((log) => log?.event);
    assert.ok(events.indexOf('server.draining') >= 0, 'no server.draining line');
    assert.ok(events.indexOf('server.stopped') > events.indexOf('server.draining'), 'no server.stopped after draining');
  });
});
