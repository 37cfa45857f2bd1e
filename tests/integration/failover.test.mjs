// Failover: a request moves to the next candidate only while nothing has reached the client. Mock
// upstreams fail in each way an upstream can (5xx, silence past the first-byte timeout, refused
// connections, a dropped socket, 429 with Retry-After) and count what reached them; the audit log
// must record every attempt.
//
// Each test has its own model and its own backends (named after the test), so one test's
// failures never open another's circuit breaker. Backends send their name upstream as the model
// id, which is how a shared mock tells them apart.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { closedPort, makeTempDir, openaiBackend, serverConfig, startDsgw } from '../support/harness.mjs';
import { collectSse, openRequest, readBody, request } from '../support/http_client.mjs';
import { startMockUpstream } from '../support/mock_upstream.mjs';

const kBreakerFailures = 3;
const kBreakerCooldownMs = 1500;
const kMaxAttempts = 3;
const kFirstByteTimeoutMs = 300;
const kPromptMarker = 'failover-prompt-marker-7c1e';

const kPolicy = `
[defaults]
prefer = "order"                 # config order: the first backend of each pair is tried first
max_attempts = ${kMaxAttempts}
breaker_failures = ${kBreakerFailures}
breaker_cooldown_ms = ${kBreakerCooldownMs}
retry_base_ms = 10
retry_cap_ms = 50
max_retry_after_ms = 5000

[[class]]
name = "internal"
jurisdictions = ["lan", "eu"]
`;

const content = (name) => [`answer `, `from `, name];
const joinedContent = (events) => events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join('');

describe('dsgw failover', () => {
  const dir = makeTempDir('dsgw-failover-');
  const mocks = {};
  let dsgw;
  let refusedPort;

  // backend name -> [mock, overrides]; models: test model -> backend names in config order.
  const layout = () => ({
    // 5xx before the first byte
    '5xx-a': ['err500'], '5xx-b': ['ok'],
    // no first byte within first_byte_timeout_ms (streams) / total_timeout_ms (whole answers)
    'slow-a': ['hang', { first_byte_timeout_ms: kFirstByteTimeoutMs, total_timeout_ms: 2 * kFirstByteTimeoutMs }],
    'slow-b': ['ok'],
    // nothing listening
    'refused-a': [null], 'refused-b': ['ok'],
    // the socket drops after a few chunks (streams) or before any answer (whole answers)
    'drop-a': ['drop'], 'drop-b': ['ok'],
    // the stream's headers came, then the socket dropped before any event
    'drop0-a': ['drop0'], 'drop0-b': ['ok'],
    // the request itself is wrong: no failover
    'bad-a': ['err400'], 'bad-b': ['ok'],
    // circuit breaker
    'breaker-a': ['breaker'], 'breaker-b': ['ok'],
    'probe-a': ['probe'], 'probe-b': ['ok'],
    // 429 + Retry-After on the last (only) candidate: retried after the wait
    'ra-only': ['ratelimit'],
    // 429 with a Retry-After longer than max_retry_after_ms
    'ra-long': ['ratelimitLong'],
    // 429 on a candidate that is not the last: fail over at once
    'ra-first-a': ['ratelimitShort'], 'ra-first-b': ['ok'],
    // every candidate fails: max_attempts bounds the tries
    'max-1': ['err500'], 'max-2': ['err500'], 'max-3': ['err500'], 'max-4': ['err500'],
    // the last candidate fails: retried on itself with backoff
    'retry-only': ['err500'],
  });
  const models = {
    'm-5xx': ['5xx-a', '5xx-b'], 'm-slow': ['slow-a', 'slow-b'], 'm-refused': ['refused-a', 'refused-b'],
    'm-drop': ['drop-a', 'drop-b'], 'm-drop0': ['drop0-a', 'drop0-b'], 'm-probe': ['probe-a', 'probe-b'],
    'm-bad': ['bad-a', 'bad-b'], 'm-breaker': ['breaker-a', 'breaker-b'],
    'm-ra-only': ['ra-only'], 'm-ra-long': ['ra-long'], 'm-ra-first': ['ra-first-a', 'ra-first-b'],
    'm-max': ['max-1', 'max-2', 'max-3', 'max-4'], 'm-retry-only': ['retry-only'],
  };

  before(async () => {
    mocks.ok = await startMockUpstream({ behaviour: { reasoning: [], content: ['answer ', 'from ', 'ok'] } });
    mocks.err500 = await startMockUpstream({ behaviour: { status: 500, errorMessage: 'upstream exploded' } });
    mocks.err400 = await startMockUpstream({
      behaviour: { status: 400, errorMessage: 'bad parameter', errorCode: 'invalid_request' },
    });
    mocks.hang = await startMockUpstream({ behaviour: { hang: true } });
    mocks.drop = await startMockUpstream({
      behaviour: { reasoning: [], content: ['one ', 'two ', 'three ', 'four'], dropAfterChunks: 3 },
    });
    mocks.drop0 = await startMockUpstream({ behaviour: { dropAfterChunks: 0 } });
    // Slow to fail, so that concurrent requests arrive while a half-open probe is out.
    mocks.probe = await startMockUpstream({ behaviour: { status: 500, firstByteDelayMs: 300 } });
    mocks.breaker = await startMockUpstream({ behaviour: { reasoning: [], content: ['answer ', 'from ', 'breaker-a'] } });
    mocks.breaker.setBehaviour({ status: 500 });
    mocks.ratelimit = await startMockUpstream({ behaviour: { reasoning: [], content: ['answer ', 'from ', 'ra-only'] } });
    mocks.ratelimitLong = await startMockUpstream({ behaviour: { status: 429, retryAfter: 30, errorMessage: 'slow down' } });
    mocks.ratelimitShort = await startMockUpstream({ behaviour: { status: 429, retryAfter: 2, errorMessage: 'slow down' } });
    refusedPort = await closedPort();

    const backends = [];
    for (const [name, [mock, overrides = {}]] of Object.entries(layout())) {
      const baseUrl = mock ? mocks[mock].baseUrl : `http://127.0.0.1:${refusedPort}/v1`;
      const served = Object.entries(models).filter(([, names]) => names.includes(name)).map(([m]) => m);
      backends.push(openaiBackend(baseUrl, {
        name, model: name, models: served, jurisdiction: 'lan', connect_timeout_ms: 1000, ...overrides,
      }));
    }
    writeFileSync(path.join(dir, 'policy.toml'), kPolicy);
    dsgw = await startDsgw({
      server: serverConfig(),
      policy: { file: 'policy.toml' },
      storage: { state_dir: 'state', audit_log: true },
      backend: backends,
    }, { dir });
  });

  after(async () => {
    await dsgw?.stop();
    for (const mock of Object.values(mocks)) await mock.close();
  });

  // Requests that reached `backend` (its name is the upstream model id).
  const hits = (backend) => Object.values(mocks).flatMap((m) => m.requests).filter((r) => r.body?.model === backend);

  const body = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: `${kPromptMarker} hello` }], ...extra });
  const chat = (model, extra) => request(`${dsgw.url}/v1/chat/completions`, { method: 'POST', body: body(model, extra) });

  async function stream(model, extra = {}) {
    const res = await openRequest(`${dsgw.url}/v1/chat/completions`, {
      method: 'POST', body: body(model, { stream: true, ...extra }),
    });
    if (res.statusCode !== 200) return { res, status: res.statusCode, json: JSON.parse(await readBody(res)) };
    return { res, status: 200, events: await collectSse(res) };
  }

  // The audit line of a request, once written.
  async function audited(requestId) {
    for (let i = 0; i < 50; i++) {
      const text = readFileSync(path.join(dir, 'state', 'decisions.jsonl'), 'utf8');
      const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const line = lines.find((l) => l.request_id === requestId);
      if (line) return line;
      await sleep(50);
    }
    assert.fail(`no audit line for request ${requestId}`);
  }

  const explain = async (model) => (await request(`${dsgw.url}/v1/route/explain`, { method: 'POST', body: body(model) })).json;
  const verdictOf = (explained, backend) => explained.candidates.find((c) => c.backend === backend)?.verdict;

  it('a 5xx before the first byte: the next candidate answers, named in X-Dsgw-Backend; both attempts audited', async () => {
    const res = await chat('m-5xx');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-dsgw-backend'], '5xx-b');
    assert.equal(res.json.choices[0].message.content, 'answer from ok');
    assert.equal(hits('5xx-a').length, 1);
    assert.equal(hits('5xx-b').length, 1);
    const line = await audited(res.headers['x-request-id']);
    assert.deepEqual(line.attempts, [{ backend: '5xx-a', outcome: 'upstream_error' }, { backend: '5xx-b', outcome: 'ok' }]);
    assert.equal(line.backend, '5xx-b');
    assert.equal(line.outcome, 'stop');

    const streamed = await stream('m-5xx');
    assert.equal(streamed.status, 200);
    assert.equal(streamed.res.headers['x-dsgw-backend'], '5xx-b');
    assert.equal(joinedContent(streamed.events), 'answer from ok');
    assert.equal(streamed.events.at(-1).data, '[DONE]');
    assert.equal(hits('5xx-a').length, 2);
  });

  it('no first byte within first_byte_timeout_ms: the stream fails over and the silent upstream is hung up on', async () => {
    const started = performance.now();
    const streamed = await stream('m-slow');
    const elapsed = performance.now() - started;
    assert.equal(streamed.status, 200, JSON.stringify(streamed.json));
    assert.equal(streamed.res.headers['x-dsgw-backend'], 'slow-b');
    assert.equal(joinedContent(streamed.events), 'answer from ok');
    assert.ok(elapsed >= 0.9 * kFirstByteTimeoutMs, `failed over after ${Math.round(elapsed)} ms, before the timeout`);
    assert.ok(elapsed < 5000, `failed over only after ${Math.round(elapsed)} ms`);
    const [slow] = hits('slow-a');
    assert.ok(slow, 'the slow backend was never tried');
    await mocks.hang.waitForEvent((e) => e.type === 'client_closed' && e.requestId === slow.id, 3000);
    const line = await audited(streamed.res.headers['x-request-id']);
    assert.deepEqual(line.attempts, [{ backend: 'slow-a', outcome: 'upstream_timeout' }, { backend: 'slow-b', outcome: 'ok' }]);
  });

  it('no answer within total_timeout_ms (not streamed): the next candidate answers', async () => {
    const res = await chat('m-slow');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-dsgw-backend'], 'slow-b');
    assert.equal(hits('slow-a').length, 2);
  });

  it('a refused connection: the next candidate answers', async () => {
    for (const streamed of [false, true]) {
      const res = streamed ? (await stream('m-refused')).res : await chat('m-refused');
      assert.equal(res.statusCode ?? res.status, 200);
      assert.equal(res.headers['x-dsgw-backend'], 'refused-b');
      const line = await audited(res.headers['x-request-id']);
      assert.deepEqual(line.attempts.map((a) => a.backend), ['refused-a', 'refused-b']);
      assert.equal(line.attempts[0].outcome, 'backend_unavailable');
    }
  });

  it('a dropped connection before any answer (not streamed): the next candidate answers', async () => {
    const res = await chat('m-drop');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-dsgw-backend'], 'drop-b');
    assert.equal(hits('drop-a').length, 1);
    assert.equal(hits('drop-b').length, 1);
  });

  it('a stream dropped mid-way: partial content, then an error event, no [DONE], and no second backend', async () => {
    const before = hits('drop-b').length;
    const streamed = await stream('m-drop');
    assert.equal(streamed.status, 200);
    assert.equal(streamed.res.headers['x-dsgw-backend'], 'drop-a');
    const { events } = streamed;
    // Chunks 0-2 came (the role chunk, "one ", "two "), then the socket dropped.
    assert.equal(joinedContent(events.slice(0, -1)), 'one two ');
    assert.ok(!events.some((e) => e.data === '[DONE]'), 'a broken stream must not end with [DONE]');
    const last = events.at(-1).json;
    assert.ok(last?.error, `last event is not an error: ${events.at(-1).data}`);
    assert.equal(typeof last.error.message, 'string');
    assert.ok('code' in last.error && 'type' in last.error, events.at(-1).data);
    await sleep(300); // a failover would have reached drop-b by now
    assert.equal(hits('drop-b').length, before, 'the second backend got a request after the stream had started');
    const line = await audited(streamed.res.headers['x-request-id']);
    assert.equal(line.attempts.length, 1, JSON.stringify(line.attempts));
    assert.equal(line.attempts[0].backend, 'drop-a');
    assert.notEqual(line.attempts[0].outcome, 'ok');
    assert.equal(line.backend, 'drop-a');
    assert.equal(line.outcome, 'error');
  });

  it('a stream whose upstream dropped after the headers but before any event fails over', async () => {
    const streamed = await stream('m-drop0');
    assert.equal(streamed.status, 200, JSON.stringify(streamed.json));
    assert.equal(streamed.res.headers['x-dsgw-backend'], 'drop0-b');
    assert.equal(joinedContent(streamed.events), 'answer from ok');
    assert.equal(streamed.events.at(-1).data, '[DONE]');
    assert.equal(hits('drop0-a').length, 1);
  });

  it('an upstream 400 is the client\'s error: passed on, no failover', async () => {
    const res = await chat('m-bad');
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.code, 'invalid_request');
    assert.match(res.json.error.message, /bad parameter/);
    assert.equal(hits('bad-a').length, 1);
    assert.equal(hits('bad-b').length, 0);
  });

  it('every candidate failing: max_attempts bounds the tries, then 502 with the last error', async () => {
    const res = await chat('m-max');
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json.error.code, 'upstream_error');
    const tried = ['max-1', 'max-2', 'max-3', 'max-4'].map((b) => hits(b).length);
    assert.deepEqual(tried, [1, 1, 1, 0]);
    const line = await audited(res.headers['x-request-id']);
    assert.deepEqual(line.attempts.map((a) => a.backend), ['max-1', 'max-2', 'max-3']);
    assert.equal(line.backend, null);
    assert.equal(line.outcome, 'error');
  });

  it('the last candidate failing is retried on itself, up to max_attempts', async () => {
    const res = await chat('m-retry-only');
    assert.equal(res.status, 502, res.text);
    assert.equal(hits('retry-only').length, kMaxAttempts);
    const line = await audited(res.headers['x-request-id']);
    assert.deepEqual(line.attempts, Array(kMaxAttempts).fill({ backend: 'retry-only', outcome: 'upstream_error' }));
  });

  it(`the circuit opens after ${kBreakerFailures} failures and skips the backend; a later probe reaches it`, async () => {
    const a = () => hits('breaker-a').length;
    for (let i = 1; i <= kBreakerFailures; i++) {
      const res = await chat('m-breaker');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-dsgw-backend'], 'breaker-b');
      assert.equal(a(), i);
    }
    // Open: not contacted at all.
    assert.equal(verdictOf(await explain('m-breaker'), 'breaker-a'), 'circuit_open');
    for (let i = 0; i < 4; i++) {
      const res = await chat('m-breaker');
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-dsgw-backend'], 'breaker-b');
      const line = await audited(res.headers['x-request-id']);
      assert.deepEqual(line.attempts, [{ backend: 'breaker-b', outcome: 'ok' }]);
      assert.equal(line.candidates.find((c) => c.backend === 'breaker-a').verdict, 'circuit_open');
    }
    assert.equal(a(), kBreakerFailures, 'a request reached the backend while its circuit was open');

    // After the cooldown one probe goes through; it fails, so the circuit opens again.
    await sleep(kBreakerCooldownMs + 300);
    assert.equal(verdictOf(await explain('m-breaker'), 'breaker-a'), 'kept');
    let res = await chat('m-breaker');
    assert.equal(res.headers['x-dsgw-backend'], 'breaker-b');
    assert.equal(a(), kBreakerFailures + 1, 'no half-open probe reached the backend');
    res = await chat('m-breaker');
    assert.equal(res.headers['x-dsgw-backend'], 'breaker-b');
    assert.equal(a(), kBreakerFailures + 1, 'the failed probe did not open the circuit again');

    // Healed: the next probe succeeds and closes the circuit.
    mocks.breaker.setBehaviour({});
    await sleep(kBreakerCooldownMs + 300);
    res = await chat('m-breaker');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-dsgw-backend'], 'breaker-a');
    assert.equal(a(), kBreakerFailures + 2);
    res = await chat('m-breaker');
    assert.equal(res.headers['x-dsgw-backend'], 'breaker-a');
    assert.equal(verdictOf(await explain('m-breaker'), 'breaker-a'), 'kept');
  });

  it('a half-open circuit lets exactly one probe through, however many requests arrive', async () => {
    const a = () => hits('probe-a').length;
    for (let i = 0; i < kBreakerFailures; i++) assert.equal((await chat('m-probe')).status, 200);
    assert.equal(a(), kBreakerFailures);
    assert.equal(verdictOf(await explain('m-probe'), 'probe-a'), 'circuit_open');
    await sleep(kBreakerCooldownMs + 300);
    const results = await Promise.all(Array.from({ length: 10 }, () => chat('m-probe')));
    for (const res of results) {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-dsgw-backend'], 'probe-b');
    }
    assert.equal(a(), kBreakerFailures + 1, `${a() - kBreakerFailures} requests reached a half-open backend`);
    assert.equal(verdictOf(await explain('m-probe'), 'probe-a'), 'circuit_open',
      'the failed probe did not open the circuit again');
  });

  it('a 429 with Retry-After on the last candidate is retried no sooner than it says', async () => {
    mocks.ratelimit.setBehaviour({ status: 429, retryAfter: 1, errorMessage: 'slow down' });
    const pending = chat('m-ra-only');
    await mocks.ratelimit.waitForRequests(1);
    mocks.ratelimit.setBehaviour({}); // the retry will succeed
    const res = await pending;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-dsgw-backend'], 'ra-only');
    const [first, second] = hits('ra-only');
    assert.ok(second, 'never retried');
    const waited = second.at - first.at;
    assert.ok(waited >= 1000, `retried ${Math.round(waited)} ms after a 429 with Retry-After: 1`);
    const line = await audited(res.headers['x-request-id']);
    assert.deepEqual(line.attempts,
      [{ backend: 'ra-only', outcome: 'upstream_rate_limited' }, { backend: 'ra-only', outcome: 'ok' }]);
  });

  it('a Retry-After beyond max_retry_after_ms is not waited for: 429 at once, with the upstream\'s Retry-After', async () => {
    const started = performance.now();
    const res = await chat('m-ra-long');
    const elapsed = performance.now() - started;
    assert.equal(res.status, 429, res.text);
    assert.equal(res.json.error.code, 'upstream_rate_limited');
    assert.equal(res.headers['retry-after'], '30');
    assert.ok(elapsed < 2000, `answered after ${Math.round(elapsed)} ms`);
    assert.equal(hits('ra-long').length, 1);
  });

  it('a 429 on a candidate that is not the last: the next one answers at once', async () => {
    const started = performance.now();
    const res = await chat('m-ra-first');
    const elapsed = performance.now() - started;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-dsgw-backend'], 'ra-first-b');
    // Retry-After: 2 is within max_retry_after_ms, so only failing over at once answers within 1 s.
    assert.ok(elapsed < 1000, `took ${Math.round(elapsed)} ms: waited for the Retry-After of a backend it could leave`);
    assert.equal(hits('ra-first-a').length, 1);
    const line = await audited(res.headers['x-request-id']);
    assert.deepEqual(line.attempts,
      [{ backend: 'ra-first-a', outcome: 'upstream_rate_limited' }, { backend: 'ra-first-b', outcome: 'ok' }]);
  });

  it('keeps prompt text out of the logs and the audit log', () => {
    const audit = readFileSync(path.join(dir, 'state', 'decisions.jsonl'), 'utf8');
    assert.ok(audit.length > 0);
    assert.ok(!audit.includes(kPromptMarker), 'prompt text in the audit log');
    assert.ok(!dsgw.lines.join('\n').includes(kPromptMarker), 'prompt text in the logs');
  });
});
