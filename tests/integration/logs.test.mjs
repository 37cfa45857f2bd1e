// dsgw's stderr: one JSON object per line, request lines carry the request id, and neither keys
// nor prompt text ever appear.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';

import { chatBody, openaiClient, postToDsgw, useGateway } from '../support/gateway.mjs';
import { openaiBackend, serverConfig, sha256Hex } from '../support/harness.mjs';
import { readBody, request } from '../support/http_client.mjs';

const kClientKey = `sk-client-${randomUUID()}`;
const kUpstreamKey = `sk-upstream-${randomUUID()}`;
const kWrongKey = `sk-wrong-${randomUUID()}`;
const kPromptMarker = `PROMPT-MARKER-${randomUUID()}`;
const kSecrets = { 'client key': kClientKey, 'upstream key': kUpstreamKey, 'rejected key': kWrongKey, 'prompt text': kPromptMarker };
const kLevels = ['debug', 'info', 'warn', 'error'];

describe('dsgw logs', () => {
  const gateway = useGateway({
    env: { DSGW_TEST_UPSTREAM_KEY: kUpstreamKey },
    config: ({ mock }) => ({
      server: serverConfig({ log_level: 'info' }),
      api_key: [{ sha256: sha256Hex(kClientKey), tenant: 'team-a' }],
      backend: [openaiBackend(mock.baseUrl, { api_key_env: 'DSGW_TEST_UPSTREAM_KEY' })],
    }),
  });
  const requestIds = [];

  // Traffic that carries every secret in every place it can: messages, prompts, malformed
  // bodies, bad keys, failed upstream calls. Then stop dsgw so that every line is written.
  before(async () => {
    const auth = { authorization: `Bearer ${kClientKey}` };
    const messages = [
      { role: 'system', content: `system ${kPromptMarker}` },
      { role: 'user', content: `user ${kPromptMarker}` },
    ];
    const sends = [
      () => postToDsgw(gateway.dsgw, '/v1/chat/completions', chatBody({ messages }), { headers: auth }),
      () => postToDsgw(gateway.dsgw, '/v1/chat/completions', chatBody({ messages, stream: true }), { headers: auth }),
      () => postToDsgw(gateway.dsgw, '/v1/completions', { model: 'm1', prompt: kPromptMarker }, { headers: auth }),
      () => postToDsgw(gateway.dsgw, '/v1/chat/completions', chatBody({ messages }), { headers: { authorization: `Bearer ${kWrongKey}` } }),
      () => postToDsgw(gateway.dsgw, '/v1/chat/completions', `{"model":"m1","messages":[{"content":"${kPromptMarker}"`, { headers: auth }),
      () => postToDsgw(gateway.dsgw, '/v1/chat/completions', chatBody({ messages, mock: { status: 500 } }), { headers: auth }),
    ];
    for (const send of sends) {
      const res = await send();
      await readBody(res);
      requestIds.push(res.headers['x-request-id']);
    }
    await openaiClient(gateway.dsgw, { apiKey: kClientKey }).chat.completions.create(chatBody({ messages }));
    assert.equal((await request(`${gateway.dsgw.url}/healthz`)).status, 200);
    await gateway.dsgw.stop();
  });

  it('writes one JSON object per line, each with ts, level and event', () => {
    const { lines, logs } = gateway.dsgw;
    assert.ok(lines.length > 0, 'no log lines');
    lines.forEach((line, index) => {
      const log = logs[index];
      assert.ok(log, `not a JSON object: ${line}`);
      assert.equal(typeof log.ts, 'string', `no ts: ${line}`);
      assert.ok(kLevels.includes(log.level), `bad level: ${line}`);
      assert.equal(typeof log.event, 'string', `no event: ${line}`);
    });
  });

  it('tags request lines with the X-Request-Id the client got', () => {
    assert.equal(requestIds.filter(Boolean).length, requestIds.length, 'a response without X-Request-Id');
    const logged = new Set(gateway.dsgw.logs.map((log) => log?.request_id).filter(Boolean));
    for (const id of requestIds) assert.ok(logged.has(id), `no log line with request_id ${id}`);
  });

  for (const [what, secret] of Object.entries(kSecrets)) {
    it(`never logs the ${what}`, () => {
      const leaks = gateway.dsgw.lines.filter((line) => line.includes(secret));
      assert.deepEqual(leaks, [], `the ${what} appears in the log`);
    });
  }

  it('sent the traffic the other checks rely on', () => {
    const upstream = gateway.mock.generations();
    assert.ok(upstream.some((r) => JSON.stringify(r.body).includes(kPromptMarker)), 'the prompt never reached the upstream');
    assert.ok(upstream.every((r) => r.headers.authorization === `Bearer ${kUpstreamKey}`));
  });
});
