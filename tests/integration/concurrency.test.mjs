// max_inflight concurrent streams all complete; the next request is turned away at once.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';

import { chatBody, kExpectedContent, postToDsgw, useGateway } from '../support/gateway.mjs';
import { openaiBackend, serverConfig } from '../support/harness.mjs';
import { collectSse, request } from '../support/http_client.mjs';

const kMaxInflight = 256;
const kChunkDelayMs = 20;

async function streamToEnd(dsgw, body) {
  const res = await postToDsgw(dsgw, '/v1/chat/completions', body, { timeoutMs: 60000 });
  const events = res.statusCode === 200 ? await collectSse(res) : [];
  const content = events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join('');
  return { status: res.statusCode, content, done: events.at(-1)?.data === '[DONE]' };
}

describe(`dsgw with max_inflight = ${kMaxInflight}`, () => {
  const gateway = useGateway({
    config: ({ mock }) => ({
      server: serverConfig({ max_inflight: kMaxInflight, workers: kMaxInflight + 64 }),
      backend: [openaiBackend(mock.baseUrl)],
    }),
  });

  it(`streams ${kMaxInflight} slow answers at once and turns the next request away with 429`, { timeout: 60000 }, async () => {
    // Each upstream stream sends two chunks, then waits for releaseHeld(): all are in flight
    // together however slowly the machine starts them.
    const slowStream = chatBody({ stream: true, mock: { holdAfterChunks: 2, chunkDelayMs: kChunkDelayMs } });
    const streams = Array.from({ length: kMaxInflight },
      () => streamToEnd(gateway.dsgw, slowStream).catch((err) => ({ status: err.message })));
    try {
      await gateway.mock.waitForHeld(kMaxInflight, 30000);

      for (const body of [chatBody(), chatBody({ stream: true })]) {
        const start = performance.now();
        const rejected = await request(`${gateway.dsgw.url}/v1/chat/completions`, { method: 'POST', body, timeoutMs: 10000 });
        const elapsedMs = performance.now() - start;
        assert.equal(rejected.status, 429, `request ${kMaxInflight + 1} got ${rejected.status}: ${rejected.text}`);
        assert.equal(rejected.json?.error?.code, 'overloaded');
        assert.match(rejected.headers['retry-after'] ?? '', /^\d+$/, 'no Retry-After seconds');
        assert.ok(elapsedMs < 2000, `the 429 took ${Math.round(elapsedMs)} ms`);
      }
    } finally {
      gateway.mock.releaseHeld();
    }

    const results = await Promise.all(streams);
    const failed = results.filter((r) => r.status !== 200 || !r.done || r.content !== kExpectedContent);
    assert.equal(failed.length, 0, `${failed.length} streams went wrong, e.g. ${JSON.stringify(failed[0])}`);

    const after = await streamToEnd(gateway.dsgw, chatBody({ stream: true }));
    assert.equal(after.status, 200, 'capacity was not given back after the streams ended');
  });
});
