// Budgets: a tenant's spending, priced from the upstream's own usage report (DeepSeek's
// prompt_cache_hit_tokens / prompt_cache_miss_tokens), goes to the SQLite ledger under
// [storage] state_dir; once it reaches usd_per_day (or tokens_per_day) the tenant gets 429
// budget_exceeded, and a restart on the same state dir changes nothing.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeTempDir, openaiBackend, serverConfig, sha256Hex, startDsgw } from '../support/harness.mjs';
import { collectSse, openRequest, request } from '../support/http_client.mjs';
import { startMockUpstream } from '../support/mock_upstream.mjs';

// What the mock reports per request, and the prices (USD per million tokens).
const kPromptTokens = 100_000;
const kCacheHitTokens = 60_000;
const kContent = ['a', 'b', 'c', 'd']; // one completion token each
const kPrice = { hit: 1.0, miss: 4.0, output: 10.0 };
const kCost = (kCacheHitTokens * kPrice.hit + (kPromptTokens - kCacheHitTokens) * kPrice.miss +
               kContent.length * kPrice.output) / 1e6;
const kCostIfCacheIgnored = (kPromptTokens * kPrice.miss + kContent.length * kPrice.output) / 1e6;
const kUsdPerDay = 1.0;
const kTokensPerDay = 250_000;

const kKeys = {
  frugal: 'sk-client-frugal-1b2c3d', counted: 'sk-client-counted-4e5f6a', rich: 'sk-client-rich-7b8c9d',
  burst: 'sk-client-burst-0c1d2e',
};
// A burst of requests in flight together: each holds its estimate (max_tokens plus the prompt's
// few tokens) against the tenant's tokens_per_day until it is recorded.
const kBurstMaxTokens = 1000;
const kBurstTokensPerDay = 2500;
const kPromptMarker = 'budget-prompt-marker-2f9a';

const kPolicy = `
[defaults]
prefer = "order"

[[class]]
name = "internal"
jurisdictions = ["cn"]

[[tenant]]
name = "frugal"
usd_per_day = ${kUsdPerDay}

[[tenant]]
name = "counted"
tokens_per_day = ${kTokensPerDay}

[[tenant]]
name = "rich"

[[tenant]]
name = "burst"
tokens_per_day = ${kBurstTokensPerDay}

[[backend]]
name = "paid"
[[backend.tokens_price]]
from = "2020-01-01"
input_cache_hit = ${kPrice.hit}
input_cache_miss = ${kPrice.miss}
output = ${kPrice.output}
`;

const hasSqliteCli = (() => {
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('dsgw budgets', () => {
  const dir = makeTempDir('dsgw-budgets-');
  const stateDir = path.join(dir, 'state');
  let mock;
  let dsgw;
  const earlierLines = [];

  const config = () => ({
    server: serverConfig(),
    policy: { file: 'policy.toml' },
    storage: { state_dir: 'state', audit_log: true },
    api_key: Object.entries(kKeys).map(([tenant, key]) => ({ sha256: sha256Hex(key), tenant })),
    backend: [openaiBackend(mock.baseUrl, { name: 'paid', models: ['m'], jurisdiction: 'cn' })],
  });

  before(async () => {
    mock = await startMockUpstream({
      behaviour: { reasoning: [], content: kContent, promptTokens: kPromptTokens, promptCacheHitTokens: kCacheHitTokens },
    });
    writeFileSync(path.join(dir, 'policy.toml'), kPolicy);
    dsgw = await startDsgw(config(), { dir });
  });

  after(async () => {
    await dsgw?.stop();
    await mock?.close();
  });

  const body = (extra = {}) => ({
    model: 'm', messages: [{ role: 'user', content: `${kPromptMarker} hi` }], max_tokens: 16, ...extra,
  });
  const chat = (tenant, extra) => request(`${dsgw.url}/v1/chat/completions`, {
    method: 'POST', body: body(extra), headers: { authorization: `Bearer ${kKeys[tenant]}` },
  });
  const auditLines = () => readFileSync(path.join(stateDir, 'decisions.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // dsgw appends audit lines in batches, within 50 ms of a request's end.
  const auditOf = async (requestId) => {
    for (let i = 0; i < 50; i++) {
      const line = auditLines().find((l) => l.request_id === requestId);
      if (line) return line;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  };

  it('prices a request from the upstream\'s cache-hit and cache-miss token counts', async () => {
    const res = await chat('rich');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.usage.prompt_cache_hit_tokens, kCacheHitTokens, 'the mock did not report cache hits');
    const line = await auditOf(res.headers['x-request-id']);
    assert.ok(line, 'no audit line');
    assert.ok(Math.abs(line.cost_usd - kCost) < 1e-9,
      `cost ${line.cost_usd}, expected ${kCost} (${kCostIfCacheIgnored} would mean cache hits were priced as misses)`);
    const done = dsgw.logs.find((l) => l?.event === 'request.done' && l.request_id === res.headers['x-request-id']);
    assert.equal(done.cached_prompt_tokens, kCacheHitTokens);
    assert.ok(Math.abs(done.cost_usd - kCost) < 1e-9, `request.done cost_usd ${done.cost_usd}`);
  });

  it('prices a streamed request the same way (from the usage chunk)', async () => {
    const res = await openRequest(`${dsgw.url}/v1/chat/completions`, {
      method: 'POST', body: body({ stream: true }), headers: { authorization: `Bearer ${kKeys.rich}` },
    });
    assert.equal(res.statusCode, 200);
    const events = await collectSse(res);
    assert.equal(events.at(-1).data, '[DONE]');
    const line = await auditOf(res.headers['x-request-id']);
    assert.ok(line, 'no audit line');
    assert.ok(Math.abs(line.cost_usd - kCost) < 1e-9, `cost ${line.cost_usd}, expected ${kCost}`);
  });

  it('serves a tenant until its spending reaches usd_per_day, then answers 429 budget_exceeded', async () => {
    // Each request costs kCost; one is let through while any budget is left.
    const allowed = Math.ceil(kUsdPerDay / kCost);
    const before = mock.requests.length;
    for (let i = 1; i <= allowed; i++) {
      const res = await chat('frugal');
      assert.equal(res.status, 200, `request ${i} of ${allowed}: ${res.text}`);
    }
    const refused = await chat('frugal');
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.error.code, 'budget_exceeded');
    assert.equal(refused.headers['x-dsgw-backend'], 'none');
    assert.equal(mock.requests.length - before, allowed, 'the refused request reached the upstream');
    const line = await auditOf(refused.headers['x-request-id']);
    assert.ok(line, 'no audit line');
    assert.equal(line.outcome, 'refused:budget_exceeded');
    assert.equal(line.backend, null);

    // Others are not affected, and explain says why this one is refused.
    assert.equal((await chat('rich')).status, 200);
    const explained = await request(`${dsgw.url}/v1/route/explain`, {
      method: 'POST', body: body(), headers: { authorization: `Bearer ${kKeys.frugal}` },
    });
    assert.equal(explained.status, 200, explained.text);
    assert.equal(explained.json.denied?.code, 'budget_exceeded', explained.text);
    assert.ok(explained.json.budget_remaining_usd <= 0, `budget_remaining_usd ${explained.json.budget_remaining_usd}`);
  });

  it('counts tokens against tokens_per_day', async () => {
    const perRequest = kPromptTokens + kContent.length;
    const allowed = Math.ceil(kTokensPerDay / perRequest);
    for (let i = 1; i <= allowed; i++) assert.equal((await chat('counted')).status, 200, `request ${i}`);
    const refused = await chat('counted');
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.error.code, 'budget_exceeded');
  });

  it('holds what requests in flight are expected to spend, so a burst cannot overrun the budget together', async () => {
    // Six at once, each answered after 500 ms: the fourth sees three holds of ~1,000 tokens.
    const results = await Promise.all(Array.from({ length: 6 }, () => chat('burst', {
      max_tokens: kBurstMaxTokens, mock: { firstByteDelayMs: 500 },
    })));
    const served = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    assert.equal(served.length, 3, results.map((r) => `${r.status} ${r.text.slice(0, 120)}`).join('\n'));
    assert.equal(refused.length, 3);
    for (const r of refused) assert.equal(r.json.error.code, 'budget_exceeded');
  });

  it('keeps the ledger in usage.sqlite under state_dir', () => {
    assert.ok(existsSync(path.join(stateDir, 'usage.sqlite')), 'no usage.sqlite in the state dir');
    assert.ok(existsSync(path.join(stateDir, 'decisions.jsonl')), 'no decisions.jsonl in the state dir');
  });

  it('has one ledger row per answered request, with the cache-hit tokens and cost', {
    skip: hasSqliteCli ? false : 'the sqlite3 CLI is not installed',
  }, async () => {
    const sql = 'SELECT tenant, backend, prompt_tokens, cached_prompt_tokens, completion_tokens, cost_usd FROM usage ORDER BY id';
    const expected = Math.ceil(kUsdPerDay / kCost);
    // dsgw writes ledger rows in batches, within 50 ms of a request's end.
    let frugal = [];
    for (let i = 0; i < 40 && frugal.length < expected; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      const out = execFileSync('sqlite3', ['-json', '-readonly', path.join(stateDir, 'usage.sqlite'), sql], { encoding: 'utf8' });
      frugal = JSON.parse(out || '[]').filter((r) => r.tenant === 'frugal');
    }
    assert.equal(frugal.length, expected);
    for (const row of frugal) {
      assert.equal(row.backend, 'paid');
      assert.equal(row.prompt_tokens, kPromptTokens);
      assert.equal(row.cached_prompt_tokens, kCacheHitTokens);
      assert.equal(row.completion_tokens, kContent.length);
      assert.ok(Math.abs(row.cost_usd - kCost) < 1e-9, `ledger cost ${row.cost_usd}`);
    }
  });

  it('still refuses after a restart on the same state dir', async () => {
    await dsgw.stop();
    earlierLines.push(...dsgw.lines);
    dsgw = await startDsgw(config(), { dir });
    const before = mock.requests.length;
    for (const tenant of ['frugal', 'counted']) {
      const refused = await chat(tenant);
      assert.equal(refused.status, 429, `${tenant}: ${refused.text}`);
      assert.equal(refused.json.error.code, 'budget_exceeded');
    }
    assert.equal(mock.requests.length, before, 'a refused request reached the upstream');
    assert.equal((await chat('rich')).status, 200);
  });

  it('keeps prompt text out of the logs and the audit log', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200)); // the last batch of audit lines
    const audit = readFileSync(path.join(stateDir, 'decisions.jsonl'), 'utf8');
    assert.ok(!audit.includes(kPromptMarker), 'prompt text in the audit log');
    assert.ok(![...earlierLines, ...dsgw.lines].join('\n').includes(kPromptMarker), 'prompt text in the logs');
    const everything = [...earlierLines, ...dsgw.lines, audit].join('\n');
    for (const key of Object.values(kKeys)) assert.ok(!everything.includes(key), 'a client key was logged');
  });
});
