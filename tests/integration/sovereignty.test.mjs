// Data sovereignty, as a property: thousands of seeded random requests with PII planted in many
// forms and places go through dsgw to four mock upstreams standing for four jurisdictions, and the
// mocks' own records must show that no request ever reached a backend its data class forbids,
// whatever the hint said, whatever a rule preferred, and whether or not the allowed backends were
// up. A JS model of each policy (tests/support/pii_corpus.mjs, with the request generator)
// predicts class, PII types and the backend that should answer; dsgw's audit log and answers are
// checked against it, and no prompt text or PII value may appear in its logs.
//
// The seed is DSGW_SOVEREIGNTY_SEED (default below); a failure message names it.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeTempDir, openaiBackend, serverConfig, sha256Hex, startDsgw } from '../support/harness.mjs';
import { collectSse, openRequest, readBody, request } from '../support/http_client.mjs';
import { startMockUpstream } from '../support/mock_upstream.mjs';
import {
  generateRequest, kBackends, kPolicyA, kPolicyB, model, policyToml,
} from '../support/pii_corpus.mjs';
import { Rng } from '../support/rng.mjs';

const kSeed = Number(process.env.DSGW_SOVEREIGNTY_SEED ?? 20250905);
const kConcurrency = 16;
const kModel = 'm';
const kKeys = { team: 'sk-client-team-0a1b2c3d4e5f', vault: 'sk-client-vault-6a7b8c9d0e1f' };
const kTagPrefix = 'zqtag';
const kTagPattern = /zqtag([0-9a-z]+)/;

// --- running requests ----------------------------------------------------------------------------

async function send(dsgw, spec) {
  const headers = { authorization: `Bearer ${kKeys[spec.tenant]}` };
  if (spec.hintVia === 'header') headers['x-dsgw-data-class'] = spec.hint;
  const res = await openRequest(`${dsgw.url}/v1/chat/completions`, { method: 'POST', body: spec.body, headers });
  const out = { status: res.statusCode, backend: res.headers['x-dsgw-backend'], requestId: res.headers['x-request-id'] };
  if (res.statusCode === 200 && spec.stream) {
    const events = await collectSse(res);
    out.streamDone = events.at(-1)?.data === '[DONE]';
  } else {
    const text = await readBody(res);
    try {
      out.json = JSON.parse(text);
    } catch {
      out.text = text;
    }
  }
  return out;
}

async function runAll(dsgw, specs) {
  const results = new Array(specs.length);
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      results[i] = await send(dsgw, specs[i]);
    }
  };
  await Promise.all(Array.from({ length: kConcurrency }, worker));
  return results;
}

// tag -> names of the mocks that received it (every attempt counts).
function arrivals(mocks) {
  const seen = new Map();
  for (const [name, mock] of Object.entries(mocks)) {
    for (const req of mock.requests) {
      const match = kTagPattern.exec(req.rawBody.toString('utf8'));
      if (!match) continue;
      const tag = match[0];
      if (!seen.has(tag)) seen.set(tag, []);
      seen.get(tag).push(name);
    }
  }
  return seen;
}

function readAudit(dir) {
  const text = readFileSync(path.join(dir, 'state', 'decisions.jsonl'), 'utf8');
  return { text, byId: new Map(text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((l) => [l.request_id, l])) };
}

// The audit lines of `ids`, once all are written (dsgw writes each after the request ended).
async function auditFor(dir, ids) {
  for (let i = 0; ; i++) {
    const audit = readAudit(dir);
    if (ids.every((id) => audit.byId.has(id)) || i === 50) return audit;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const describeSpec = ({ tag, tenant, hint, hintVia, types, body }) =>
  JSON.stringify({ seed: kSeed, tag, tenant, hint, hintVia, types, body });

// --- the suite -----------------------------------------------------------------------------------

describe('data sovereignty under random PII traffic', () => {
  const dir = makeTempDir('dsgw-sovereignty-');
  const policyPath = path.join(dir, 'policy.toml');
  const mocks = {};
  const down = new Set(); // backends made unusable so far
  let dsgw;
  let seq = 0;
  const rng = new Rng(kSeed);
  const allValues = [];
  const stats = { requests: 0 };
  const earlierLines = []; // stderr of the dsgw processes before the last restart

  const config = () => ({
    server: serverConfig({ max_inflight: 64, workers: 96 }),
    policy: { file: 'policy.toml' },
    storage: { state_dir: 'state', audit_log: true },
    api_key: Object.entries(kKeys).map(([tenant, key]) => ({ sha256: sha256Hex(key), tenant })),
    backend: kBackends.map((name) => openaiBackend(mocks[name].baseUrl, {
      name, jurisdiction: name, models: [kModel], connect_timeout_ms: 1000, first_byte_timeout_ms: 5000,
    })),
  });

  before(async () => {
    for (const name of kBackends) mocks[name] = await startMockUpstream({ behaviour: { reasoning: [], content: ['ok'] } });
    writeFileSync(policyPath, policyToml(kPolicyA));
    dsgw = await startDsgw(config(), { dir });
  });

  after(async () => {
    await dsgw?.stop();
    for (const mock of Object.values(mocks)) await mock.close().catch(() => {});
  });

  // Sends `count` random requests under `policy` and checks every one of them.
  async function phase(policy, count, { revision } = {}) {
    const specs = Array.from({ length: count },
      () => generateRequest(rng, policy, { tag: `${kTagPrefix}${(seq++).toString(36)}`, model: kModel }));
    for (const spec of specs) allValues.push(...spec.values);
    const before = Object.fromEntries(Object.entries(mocks).map(([n, m]) => [n, m.requests.length]));
    const results = await runAll(dsgw, specs);
    const seen = arrivals(mocks);
    const audit = await auditFor(dir, results.map((res) => res.requestId).filter(Boolean));
    const healthy = kBackends.filter((b) => !down.has(b));
    const byClass = {};
    let failClosed = 0;
    let publicHintOnSensitive = 0;
    stats.requests += count;

    specs.forEach((spec, i) => {
      const res = results[i];
      const expected = model(policy, spec);
      const reached = seen.get(spec.tag) ?? [];
      const context = () => `\n${describeSpec(spec)}\nexpected ${JSON.stringify(expected)}` +
        `\ngot ${JSON.stringify({ ...res, reached })}`;
      byClass[expected.className] = (byClass[expected.className] ?? 0) + 1;
      if (spec.hint === 'public' && ['confidential', 'restricted'].includes(expected.className)) publicHintOnSensitive++;

      // The property: nothing ever reached a backend outside the class's jurisdictions.
      for (const backend of reached) {
        assert.ok(expected.jurisdictions.includes(backend),
          `SOVEREIGNTY VIOLATED: a ${expected.className} request reached ${backend}${context()}`);
      }
      const audited = audit.byId.get(res.requestId);
      assert.ok(audited, `no audit line for ${res.requestId}${context()}`);
      assert.equal(audited.class, expected.className, `audit class${context()}`);
      assert.deepEqual([...audited.pii].sort(), [...spec.types].sort(), `audit pii types${context()}`);
      if (revision) assert.equal(audited.policy_revision, revision, `audit policy_revision${context()}`);

      const serving = expected.candidates.find((b) => healthy.includes(b));
      if (serving) {
        assert.equal(res.status, 200, `status${context()}`);
        if (spec.stream) assert.ok(res.streamDone, `stream did not end with [DONE]${context()}`);
        assert.ok(reached.includes(serving), `expected ${serving} to answer${context()}`);
        assert.equal(res.backend, serving, `X-Dsgw-Backend${context()}`);
        if (down.size === 0) assert.deepEqual(reached, [serving], `all up: exactly one upstream request${context()}`);
      } else {
        assert.ok([502, 503, 504].includes(res.status), `expected an error, got ${res.status}${context()}`);
        const codes = ['no_allowed_backend', 'upstream_error', 'backend_unavailable', 'upstream_timeout'];
        assert.ok(codes.includes(res.json?.error?.code), `error code${context()}`);
        assert.equal(audited.backend, null, `audit backend${context()}`);
        if (res.json.error.code === 'no_allowed_backend') failClosed++;
      }
    });
    // The generator must actually exercise every class and both ways of failing.
    const lower = (byClass.public ?? 0) + (byClass.internal ?? 0);
    const counts = [['confidential', byClass.confidential], ['restricted', byClass.restricted], ['public/internal', lower]];
    for (const [label, n] of counts) {
      assert.ok((n ?? 0) >= 20, `only ${n ?? 0} ${label} requests: ${JSON.stringify(byClass)}`);
    }
    assert.ok(publicHintOnSensitive >= 20, `only ${publicHintOnSensitive} sensitive requests were hinted public`);
    const sent = Object.fromEntries(Object.entries(mocks).map(([n, m]) => [n, m.requests.length - before[n]]));
    return { byClass, failClosed, sent };
  }

  it('policy A, every backend up: each request goes where its class allows, to the preferred backend', async () => {
    const { sent } = await phase(kPolicyA, 700);
    assert.ok(sent.cn > 100 && sent.site > 100 && sent.lan > 50, `traffic per backend: ${JSON.stringify(sent)}`);
  });

  it('policy B via POST /admin/reload, every backend up', async () => {
    writeFileSync(policyPath, policyToml(kPolicyB));
    const reload = await request(`${dsgw.url}/admin/reload`, { method: 'POST' });
    assert.equal(reload.status, 200, reload.text);
    const { sent } = await phase(kPolicyB, 700, { revision: reload.json.policy_revision });
    assert.ok(sent.cn > 50 && sent.eu > 50 && sent.site > 100 && sent.lan > 5, `traffic per backend: ${JSON.stringify(sent)}`);
  });

  it('policy B with the on-site server failing (503) and the LAN box gone: restricted and confidential fail closed', async () => {
    mocks.site.setBehaviour({ status: 503, errorMessage: 'site down' });
    await mocks.lan.close();
    down.add('site').add('lan');
    const { failClosed, sent } = await phase(kPolicyB, 400);
    assert.ok(failClosed > 20, `only ${failClosed} requests were refused with no_allowed_backend`);
    assert.ok(sent.site > 0, 'the failing site backend was never even tried');
  });

  it('policy A after a restart on the same state dir, same outage', async () => {
    await dsgw.stop();
    earlierLines.push(...dsgw.lines);
    writeFileSync(policyPath, policyToml(kPolicyA));
    dsgw = await startDsgw(config(), { dir });
    const { failClosed } = await phase(kPolicyA, 400);
    assert.ok(failClosed > 20, `only ${failClosed} requests were refused with no_allowed_backend`);
    assert.ok(stats.requests >= 2000, `only ${stats.requests} random requests`);
  });

  it('never writes prompt text or PII values to the audit log or the logs', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const audit = readFileSync(path.join(dir, 'state', 'decisions.jsonl'), 'utf8');
    const logs = [...earlierLines, ...dsgw.lines].join('\n');
    assert.ok(audit.length > 0 && logs.length > 0);
    assert.doesNotMatch(audit, kTagPattern, 'prompt text (a request tag) in the audit log');
    assert.doesNotMatch(logs, kTagPattern, 'prompt text (a request tag) in the logs');
    // Each value as planted, and its digits alone when it has many (cards, IDs, phones, IBANs).
    const needles = new Set();
    for (const value of allValues) {
      for (const line of value.split(/\r?\n/)) if (line.trim().length >= 8) needles.add(line.trim());
      const digits = value.replace(/[^0-9]/g, '');
      if (digits.length >= 9) needles.add(digits);
    }
    const both = `${audit}\n${logs}`;
    for (const needle of needles) {
      if (!both.includes(needle)) continue;
      assert.ok(!audit.includes(needle), `a PII value is in the audit log: ${JSON.stringify(needle)}`);
      assert.fail(`a PII value is in dsgw's logs: ${JSON.stringify(needle)}`);
    }
  });
});

// Targeted: places where a sensitive value can ride along to the upstream besides message text.
describe('data sovereignty: every forwarded field is scanned', () => {
  const dir = makeTempDir('dsgw-sovereignty-fields-');
  const mocks = {};
  let dsgw;
  const card = '4111 1111 1111 1111';

  before(async () => {
    for (const name of kBackends) mocks[name] = await startMockUpstream({ behaviour: { reasoning: [], content: ['ok'] } });
    writeFileSync(path.join(dir, 'policy.toml'), policyToml(kPolicyA));
    dsgw = await startDsgw({
      server: serverConfig(),
      policy: { file: 'policy.toml' },
      storage: { state_dir: 'state', audit_log: true },
      api_key: Object.entries(kKeys).map(([tenant, key]) => ({ sha256: sha256Hex(key), tenant })),
      backend: kBackends.map((name) => openaiBackend(mocks[name].baseUrl, { name, jurisdiction: name, models: [kModel] })),
    }, { dir });
  });

  after(async () => {
    await dsgw?.stop();
    for (const mock of Object.values(mocks)) await mock.close();
  });

  let n = 0;
  async function where(body, { endpoint = '/v1/chat/completions', headers = {} } = {}) {
    const tag = `${kTagPrefix}f${n++}`;
    const tagged = endpoint === '/v1/completions'
      ? { ...body, prompt: `${body.prompt} ${tag}` }
      : { ...body, messages: [...body.messages, { role: 'user', content: `and ${tag}` }] };
    const res = await request(`${dsgw.url}${endpoint}`, {
      method: 'POST', body: tagged, headers: { authorization: `Bearer ${kKeys.team}`, ...headers },
    });
    return { res, reached: arrivals(mocks).get(tag) ?? [] };
  }

  it('control: clean requests go abroad, a card in the text stays on site', async () => {
    const clean = await where({ model: kModel, messages: [{ role: 'user', content: 'hello' }] });
    assert.deepEqual(clean.reached, ['cn']);
    const withCard = await where({ model: kModel, messages: [{ role: 'user', content: `card ${card}` }] });
    assert.equal(withCard.res.status, 200);
    assert.deepEqual(withCard.reached, ['site']);
  });

  it('a card in /v1/completions prompt stays on site', async () => {
    const { res, reached } = await where({ model: kModel, prompt: `charge ${card}` }, { endpoint: '/v1/completions' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(reached, ['site']);
  });

  it('an unknown X-Dsgw-Data-Class is a 400 and reaches no backend', async () => {
    const { res, reached } = await where({ model: kModel, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-dsgw-data-class': 'top-secret' } });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(reached, []);
  });

  // Each of these sends the value where dsgw forwards it upstream; it must stay on site.
  const staysOnSite = async (body) => {
    const { res, reached } = await where(body);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(reached, ['site'], `a restricted value reached ${reached}`);
  };

  it('a card in an assistant turn\'s tool_calls arguments stays on site',
    () => staysOnSite({
      model: kModel,
      messages: [
        { role: 'user', content: 'pay the invoice' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'pay', arguments: JSON.stringify({ card }) } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'paid' },
      ],
    }));

  it('a card in a stop sequence stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'hi' }], stop: [card] }));

  it('a card in a text part that follows a part ending in a letter stays on site',
    () => staysOnSite({
      model: kModel,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Please charge the card' }, { type: 'text', text: card }] }],
    }));

  it('a secret in an extra field of a message stays on site',
    () => staysOnSite({
      model: kModel,
      messages: [{ role: 'user', content: 'see attachment', attachment_note: 'key AKIAIOSFODNN7EXAMPLE' }],
    }));

  // Forms people paste: digit groups joined by tabs or several spaces, dashed IBANs, addresses at
  // internationalised domains.
  it('a card copied from a spreadsheet (tab-separated groups) stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'card\t4111\t1111\t1111\t1111' }] }));

  it('a card with two spaces between groups stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'card 4111  1111  1111  1111' }] }));

  it('an IBAN grouped with dashes stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'iban DE89-3704-0044-0532-0130-00' }] }));

  it('an e-mail address at an internationalised domain is not sent abroad',
    async () => {
      for (const address of ['li@例子.中国', 'li.wei@xn--fsqu00a.xn--fiqs8s']) {
        const { reached } = await where({ model: kModel, messages: [{ role: 'user', content: `mail ${address}` }] });
        assert.deepEqual(reached.filter((b) => b === 'cn' || b === 'eu'), [], `${address} reached ${reached}`);
      }
    });
});
