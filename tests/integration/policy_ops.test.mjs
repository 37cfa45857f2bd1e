// Operating the policy: explaining a decision (HTTP and CLI), testing a policy (`dsgw policy
// test`, `dsgw check`), and changing it live (POST /admin/reload, saving the file), where a
// policy whose tests fail never replaces the one serving.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { makeTempDir, openaiBackend, runDsgw, serverConfig, sha256Hex, startDsgw, writeConfig } from '../support/harness.mjs';
import { request } from '../support/http_client.mjs';
import { startMockUpstream } from '../support/mock_upstream.mjs';

const kRepoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const kCard = '4111 1111 1111 1111';
const kEmail = 'wei.zhang@corp.example.cn';

const policyText = ({ ruleId = 'abroad-v1', card = 'restricted', extra = '' } = {}) => `
[defaults]
prefer = "order"
${extra}
[[class]]
name = "internal"
jurisdictions = ["site", "cn"]

[[class]]
name = "confidential"
jurisdictions = ["site"]

[[class]]
name = "restricted"
jurisdictions = ["site"]

[pii]
credit_card = "${card}"
email = "confidential"

[[rule]]
id = "${ruleId}"
priority = 10
[rule.then]
order = ["cn", "site"]
`;

const kTests = `
[[case]]
name = "ordinary requests go abroad"
model = "m"
prompt = "Explain TCP slow start."
expect_backend = "cn"
expect_class = "internal"

[[case]]
name = "cards stay on site"
model = "m"
prompt = "charge ${kCard} please"
expect_backend = "site"
expect_class = "restricted"
expect_pii = ["credit_card"]

[[case]]
name = "cards fail closed when the site is down"
model = "m"
prompt = "charge 4111-1111-1111-1111 please"
down = ["site"]
expect_error = "no_allowed_backend"
`;

const revisionOf = (text) => sha256Hex(text).slice(0, 12);
const chatBody = (content, extra = {}) => ({ model: 'm', messages: [{ role: 'user', content }], ...extra });

describe('dsgw policy operations', () => {
  const dir = makeTempDir('dsgw-policy-ops-');
  const policyPath = path.join(dir, 'policy.toml');
  const testsPath = path.join(dir, 'policy.tests.toml');
  let mock;
  let dsgw;
  let configPath;
  let servingText; // the policy text dsgw should be serving

  const config = () => ({
    server: serverConfig(),
    policy: { file: 'policy.toml', tests: 'policy.tests.toml' },
    storage: { state_dir: 'state', audit_log: true },
    backend: [
      openaiBackend(mock.baseUrl, { name: 'site', model: 'site', models: ['m'], jurisdiction: 'site' }),
      openaiBackend(mock.baseUrl, { name: 'cn', model: 'cn', models: ['m'], jurisdiction: 'cn' }),
    ],
  });

  before(async () => {
    mock = await startMockUpstream();
    servingText = policyText();
    writeFileSync(policyPath, servingText);
    writeFileSync(testsPath, kTests);
    dsgw = await startDsgw(config(), { dir });
    configPath = dsgw.configPath;
  });

  after(async () => {
    await dsgw?.stop();
    await mock?.close();
  });

  const explain = (body, headers = {}) => request(`${dsgw.url}/v1/route/explain`, { method: 'POST', body, headers });
  const chat = (content) => request(`${dsgw.url}/v1/chat/completions`, { method: 'POST', body: chatBody(content) });
  const reload = () => request(`${dsgw.url}/admin/reload`, { method: 'POST' });
  const generations = () => mock.requests.filter((r) => r.method === 'POST').length;

  describe('POST /v1/route/explain', () => {
    it('explains a decision: class, PII types, every candidate with its verdict and reason, the policy revision', async () => {
      const before = generations();
      const res = await explain(chatBody(`charge ${kCard}, receipt to ${kEmail}`));
      assert.equal(res.status, 200, res.text);
      const e = res.json;
      assert.equal(e.policy_revision, revisionOf(servingText));
      assert.equal(e.data_class, 'restricted');
      assert.deepEqual([...e.pii].sort(), ['credit_card', 'email']);
      assert.equal(e.class_sources.detector, 'restricted');
      assert.deepEqual(e.matched_rules, ['abroad-v1']);
      assert.equal(e.rule, 'abroad-v1');
      assert.equal(res.headers['x-dsgw-rule'], 'abroad-v1');
      assert.equal(e.chosen, 'site');
      const byName = Object.fromEntries(e.candidates.map((c) => [c.backend, c]));
      assert.deepEqual(Object.keys(byName).sort(), ['cn', 'site']);
      assert.equal(byName.site.verdict, 'kept');
      assert.equal(byName.site.rank, 1);
      assert.equal(byName.cn.verdict, 'sovereignty');
      assert.equal(byName.cn.rank, null);
      assert.match(byName.cn.reason, /sovereignty/);
      assert.match(byName.cn.reason, /restricted/);
      for (const c of e.candidates) {
        assert.equal(typeof c.reason, 'string');
        assert.equal(typeof c.jurisdiction, 'string');
        assert.equal(typeof c.estimated_cost_usd, 'number');  // every candidate here serves the model
        assert.equal(typeof c.predicted_latency_ms, 'number');
      }
      // Types, never values; and nothing was run.
      assert.ok(!res.text.includes('4111') && !res.text.includes(kEmail) && !res.text.includes('wei.zhang'), res.text);
      for (const f of e.findings) assert.deepEqual(Object.keys(f).sort(), ['confidence', 'type']);
      assert.equal(generations(), before, 'explain ran the request');
    });

    it('names the hint as a class source, and never lets it lower the class', async () => {
      const hinted = (await explain(chatBody('hello'), { 'x-dsgw-data-class': 'confidential' })).json;
      assert.equal(hinted.data_class, 'confidential');
      assert.equal(hinted.class_sources.hint, 'confidential');
      assert.equal(hinted.chosen, 'site');
      const lowered = (await explain(chatBody(`card ${kCard}`), { 'x-dsgw-data-class': 'internal' })).json;
      assert.equal(lowered.data_class, 'restricted');
      assert.equal(lowered.chosen, 'site');
    });

    it('explains a clean request: internal, sent abroad first', async () => {
      const e = (await explain(chatBody('Explain TCP slow start.'))).json;
      assert.equal(e.data_class, 'internal');
      assert.deepEqual(e.pii, []);
      assert.equal(e.chosen, 'cn');
      assert.deepEqual(e.candidates.map((c) => [c.backend, c.verdict, c.rank]), [['site', 'kept', 2], ['cn', 'kept', 1]]);
    });

    it('rejects an unknown data class hint with 400', async () => {
      const res = await explain(chatBody('hello'), { 'x-dsgw-data-class': 'secret-ish' });
      assert.equal(res.status, 400, res.text);
    });
  });

  describe('dsgw route explain', () => {
    it('prints the same decision as the HTTP endpoint', async () => {
      const body = chatBody(`charge ${kCard}`);
      const file = path.join(dir, 'request.json');
      writeFileSync(file, JSON.stringify(body));
      const cli = await runDsgw(['route', 'explain', '--config', configPath, file]);
      assert.equal(cli.code, 0, cli.stderr);
      const offline = JSON.parse(cli.stdout);
      const live = (await explain(body)).json;
      const keys = ['object', 'policy_revision', 'data_class', 'pii', 'rule', 'matched_rules', 'chosen', 'class_sources',
        'tenant', 'model'];
      for (const key of keys) {
        assert.deepEqual(offline[key], live[key], key);
      }
      const verdicts = (e) => e.candidates.map((c) => [c.backend, c.jurisdiction, c.verdict, c.rank, c.reason]);
      assert.deepEqual(verdicts(offline), verdicts(live));
      assert.ok(!cli.stdout.includes('4111'), 'the card number is in the output');
    });

    it('takes --down and --data-class, and exits 1 when the request would be refused', async () => {
      const file = path.join(dir, 'request-card.json');
      writeFileSync(file, JSON.stringify(chatBody(`charge ${kCard}`)));
      const refused = await runDsgw(['route', 'explain', '--config', configPath, '--down', 'site', file]);
      assert.equal(refused.code, 1, refused.stderr);
      const e = JSON.parse(refused.stdout);
      assert.equal(e.denied.code, 'no_allowed_backend');
      assert.equal(e.candidates.find((c) => c.backend === 'site').verdict, 'unusable');
      assert.equal(e.chosen, null);

      const clean = path.join(dir, 'request-clean.json');
      writeFileSync(clean, JSON.stringify(chatBody('hello')));
      const hinted = await runDsgw(['route', 'explain', '--config', configPath, '--data-class', 'confidential', clean]);
      assert.equal(hinted.code, 0, hinted.stderr);
      assert.equal(JSON.parse(hinted.stdout).chosen, 'site');
    });
  });

  describe('dsgw policy test and dsgw check', () => {
    it('passes the shipped config/policy.tests.toml', async () => {
      const res = await runDsgw(['policy', 'test', '--config', path.join(kRepoRoot, 'config', 'dsgw.toml')]);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /(\d+) cases, 0 failed/);
      assert.ok(Number(/(\d+) cases/.exec(res.stdout)[1]) >= 5, res.stdout);
    });

    it('fails (exit 1) on a broken expectation and prints the case', async () => {
      const broken = path.join(dir, 'broken.tests.toml');
      writeFileSync(broken, `${kTests}
[[case]]
name = "a deliberately wrong expectation"
model = "m"
prompt = "hello"
expect_backend = "site"
`);
      const res = await runDsgw(['policy', 'test', '--config', configPath, broken]);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stdout, /FAIL .*a deliberately wrong expectation/);
      assert.match(res.stdout, /expected backend site, got backend cn/);
      assert.match(res.stdout, /4 cases, 1 failed/);
      assert.doesNotMatch(res.stdout, /cards stay on site/, 'a passing case was reported as failed');
    });

    it('check passes the shipped config/policy.toml and policy.tests.toml, in place and copied elsewhere', async () => {
      const inPlace = await runDsgw(['check', '--config', path.join(kRepoRoot, 'config', 'dsgw.toml')]);
      assert.equal(inPlace.code, 0, inPlace.stderr);
      assert.match(inPlace.stdout, /OK/);

      const copyDir = makeTempDir('dsgw-shipped-');
      const shippedPolicy = path.join(kRepoRoot, 'config', 'policy.toml');
      const shippedTests = path.join(kRepoRoot, 'config', 'policy.tests.toml');
      const text = readFileSync(path.join(kRepoRoot, 'config', 'dsgw.toml'), 'utf8')
        .replace(/^file = "policy\.toml"/m, `file = ${JSON.stringify(shippedPolicy)}`)
        .replace(/^tests = "policy\.tests\.toml"/m, `tests = ${JSON.stringify(shippedTests)}`);
      assert.match(text, /config\/policy\.tests\.toml/, 'the shipped config no longer names policy.tests.toml as expected');
      const copied = writeConfig(copyDir, text);
      const res = await runDsgw(['check', '--config', copied]);
      assert.equal(res.code, 0, res.stderr);
      const shippedRevision = revisionOf(readFileSync(shippedPolicy, 'utf8'));
      assert.ok(res.stdout.includes(`policy ${shippedPolicy}, revision ${shippedRevision}`), res.stdout);
      // A missing model directory is only a warning.
      assert.doesNotMatch(res.stderr, /error/i);
    });

    it('check fails when the policy tests fail, naming the case', async () => {
      const checkDir = makeTempDir('dsgw-check-policy-');
      copyFileSync(testsPath, path.join(checkDir, 'policy.tests.toml'));
      writeFileSync(path.join(checkDir, 'policy.toml'), policyText({ card: 'ignore' }));
      const file = writeConfig(checkDir, config());
      const res = await runDsgw(['check', '--config', file]);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stderr, /policy test\(s\) failed/);
      assert.match(res.stderr, /cards stay on site/);
    });

    it('check fails on an unknown policy key, with file:line:col', async () => {
      const checkDir = makeTempDir('dsgw-check-policy-');
      copyFileSync(testsPath, path.join(checkDir, 'policy.tests.toml'));
      const text = policyText({ extra: 'no_such_key = 1' });
      writeFileSync(path.join(checkDir, 'policy.toml'), text);
      const line = text.split('\n').findIndex((l) => l.startsWith('no_such_key')) + 1;
      const file = writeConfig(checkDir, config());
      const res = await runDsgw(['check', '--config', file]);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stderr, new RegExp(`policy\\.toml:${line}:1: defaults\\.no_such_key: unknown key`), res.stderr);
    });
  });

  describe('changing the policy of a running dsgw', () => {
    it('POST /admin/reload rejects a policy whose tests fail (422), and the old one keeps serving', async () => {
      const rejected = policyText({ ruleId: 'rejected-rule', card: 'ignore' });
      writeFileSync(policyPath, rejected);
      const res = await reload();
      assert.equal(res.status, 422, res.text);
      assert.equal(res.json.error.code, 'reload_rejected');
      assert.match(res.json.error.message, /cards stay on site/);

      const e = (await explain(chatBody(`charge ${kCard}`))).json;
      assert.equal(e.policy_revision, revisionOf(servingText));
      assert.equal(e.chosen, 'site');
      const served = await chat(`charge ${kCard}`);
      assert.equal(served.status, 200, served.text);
      assert.equal(served.headers['x-dsgw-rule'], 'abroad-v1');
      assert.equal(served.headers['x-dsgw-backend'], 'site');
      assert.equal(dsgw.exit, undefined);
    });

    it('POST /admin/reload rejects a policy with a syntax error, naming file:line', async () => {
      writeFileSync(policyPath, `${servingText}\n[[rule]\nid = "x"\n`);
      const res = await reload();
      assert.equal(res.status, 422, res.text);
      assert.match(res.json.error.message, /policy\.toml:\d+:\d+/);
      assert.equal((await explain(chatBody('hi'))).json.policy_revision, revisionOf(servingText));
    });

    it('POST /admin/reload applies a valid change', async () => {
      const next = policyText({ ruleId: 'abroad-v2' });
      writeFileSync(policyPath, next);
      const res = await reload();
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.status, 'reloaded');
      assert.equal(res.json.policy_revision, revisionOf(next));
      assert.equal(typeof res.json.config_revision, 'string');
      servingText = next;
      const served = await chat('hello there');
      assert.equal(served.status, 200, served.text);
      assert.equal(served.headers['x-dsgw-rule'], 'abroad-v2');
      assert.equal(served.headers['x-dsgw-backend'], 'cn');
      assert.equal((await explain(chatBody('hi'))).json.policy_revision, revisionOf(next));
    });

    it('saving the policy file reloads it without a signal; a broken save keeps the old one', async () => {
      await sleep(1500); // let the file watcher settle after the reloads above
      const next = policyText({ ruleId: 'abroad-v3' });
      let from = dsgw.logs.length;
      writeFileSync(policyPath, next);
      const reloaded = await dsgw.waitForLog(
        (l) => l?.event === 'config.reloaded' && l.policy_revision === revisionOf(next), { from, timeoutMs: 5000 });
      assert.equal(reloaded.via, 'file', 'reloaded by the file watcher, not over HTTP');
      const served = await chat('hello again');
      assert.equal(served.headers['x-dsgw-rule'], 'abroad-v3');
      servingText = next;

      from = dsgw.logs.length;
      writeFileSync(policyPath, policyText({ ruleId: 'abroad-v4', card: 'ignore' }));
      const failed = await dsgw.waitForLog('config.reload_failed', { from, timeoutMs: 5000 });
      assert.match(failed.error, /cards stay on site/);
      assert.equal((await chat('hello')).headers['x-dsgw-rule'], 'abroad-v3');
    });

    it('saving the tests file reloads too, and a failing test there blocks nothing already serving', async () => {
      const from = dsgw.logs.length;
      writeFileSync(policyPath, servingText); // back to a valid policy (abroad-v3)
      const reloadEnded = (l) => l?.event === 'config.reloaded' || l?.event === 'config.reload_failed';
      await dsgw.waitForLog(reloadEnded, { from, timeoutMs: 5000 });
      const from2 = dsgw.logs.length;
      writeFileSync(testsPath, `${kTests}
[[case]]
name = "a new case the policy does not meet"
model = "m"
prompt = "hello"
expect_backend = "site"
`);
      const failed = await dsgw.waitForLog(reloadEnded, { from: from2, timeoutMs: 5000 });
      assert.equal(failed.event, 'config.reload_failed');
      assert.match(failed.error, /a new case the policy does not meet/);
      assert.equal((await chat('hello')).headers['x-dsgw-rule'], 'abroad-v3');
    });

    it('keeps prompt text and PII values out of the logs and the audit log', async () => {
      await new Promise((resolve) => setTimeout(resolve, 200)); // the last batch of audit lines
      const audit = readFileSync(path.join(dir, 'state', 'decisions.jsonl'), 'utf8');
      const logs = dsgw.lines.join('\n');
      assert.ok(audit.length > 0);
      for (const needle of ['4111', kEmail, 'Explain TCP slow start', 'hello again']) {
        assert.ok(!audit.includes(needle), `${needle} in the audit log`);
        assert.ok(!logs.includes(needle), `${needle} in the logs`);
      }
    });
  });
});

// POST /admin/reload is for the operator on the box: a client from another address gets 404,
// even when dsgw listens on every interface.
describe('POST /admin/reload from a non-loopback address', () => {
  const address = Object.values(networkInterfaces()).flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  const skip = address ? false : 'this machine has no non-loopback IPv4 address';
  let mock;
  let dsgw;

  before(async () => {
    if (skip) return;
    mock = await startMockUpstream();
    const dir = makeTempDir('dsgw-reload-remote-');
    dsgw = await startDsgw({
      server: serverConfig({ listen: '0.0.0.0:0', allow_unauthenticated: true }),
      backend: [openaiBackend(mock.baseUrl, { name: 'up', models: ['m'], jurisdiction: 'site' })],
    }, { dir });
  });

  after(async () => {
    await dsgw?.stop();
    await mock?.close();
  });

  it('is refused with 404, while loopback is served', { skip }, async () => {
    const remote = await request(`http://${address}:${dsgw.port}/admin/reload`, { method: 'POST' });
    assert.equal(remote.status, 404, remote.text);
    assert.match(remote.json.error.message, /only served to loopback clients/);
    assert.equal((await request(`http://${address}:${dsgw.port}/healthz`)).status, 200);
    const local = await request(`${dsgw.url}/admin/reload`, { method: 'POST' });
    assert.equal(local.status, 200, local.text);
  });
});
