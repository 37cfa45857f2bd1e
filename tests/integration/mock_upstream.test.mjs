// The mock upstream's own behaviours, without dsgw: if these fail, the gateway tests mean nothing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chatBody } from '../support/gateway.mjs';
import { collectSse, openRequest, readBody, request } from '../support/http_client.mjs';
import { kDefaultBehaviour, startMockUpstream } from '../support/mock_upstream.mjs';
import { createTestPki } from '../support/tls.mjs';

describe('mock upstream', () => {
  let mock;
  before(async () => { mock = await startMockUpstream(); });
  after(() => mock.close());

  const post = (path, body) => request(`${mock.url}${path}`, { method: 'POST', body });
  const stream = async (body) => collectSse(await openRequest(`${mock.url}/v1/chat/completions`, { method: 'POST', body }));

  it('answers a chat completion with reasoning, content and DeepSeek-style usage', async () => {
    const { status, json } = await post('/v1/chat/completions', chatBody());
    assert.equal(status, 200);
    assert.equal(json.object, 'chat.completion');
    assert.equal(json.model, chatBody().model, 'the mock echoes the model it was asked for');
    assert.equal(json.choices[0].message.content, 'Hello, world!');
    assert.equal(json.choices[0].message.reasoning_content, 'Let me think about it.');
    const { usage } = json;
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
    assert.equal(usage.prompt_cache_hit_tokens + usage.prompt_cache_miss_tokens, usage.prompt_tokens);
  });

  it('streams reasoning deltas, then content deltas, a finish chunk and [DONE]', async () => {
    const events = await stream(chatBody({ stream: true }));
    assert.equal(events.at(-1).data, '[DONE]');
    const deltas = events.slice(0, -1).map((e) => e.json.choices[0].delta);
    const firstContent = deltas.findIndex((d) => d.content);
    const lastReasoning = deltas.findLastIndex((d) => d.reasoning_content);
    assert.ok(lastReasoning < firstContent);
    assert.equal(deltas.map((d) => d.content ?? '').join(''), 'Hello, world!');
    assert.equal(events.at(-2).json.choices[0].finish_reason, 'stop');
    assert.ok(events.every((e) => e.json?.usage === undefined));
  });

  it('adds a usage chunk only when stream_options.include_usage is set', async () => {
    const events = await stream(chatBody({ stream: true, stream_options: { include_usage: true } }));
    const usageChunk = events.at(-2).json;
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage.prompt_tokens, kDefaultBehaviour.promptTokens);
  });

  it('serves /v1/completions and /v1/models', async () => {
    const completion = await post('/v1/completions', { model: 'x', prompt: 'Say hi' });
    assert.equal(completion.json.choices[0].text, 'Hello, world!');
    const models = await request(`${mock.url}/v1/models`);
    assert.deepEqual(models.json.data.map((m) => m.id), ['upstream-model-id']);
  });

  it('calls the first offered tool and returns logprobs when asked', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const { json } = await post('/v1/chat/completions', chatBody({ tools }));
    assert.equal(json.choices[0].message.tool_calls[0].function.name, 'get_weather');
    assert.equal(json.choices[0].finish_reason, 'tool_calls');
    const withLogprobs = await post('/v1/chat/completions', chatBody({ logprobs: true }));
    assert.equal(withLogprobs.json.choices[0].logprobs.content.length, kDefaultBehaviour.content.length);
  });

  it('answers with the scripted error status, body and Retry-After', async () => {
    const { status, json, headers } = await post('/v1/chat/completions',
      chatBody({ mock: { status: 429, retryAfter: 7, errorMessage: 'slow down' } }));
    assert.equal(status, 429);
    assert.equal(headers['retry-after'], '7');
    assert.equal(json.error.message, 'slow down');
    assert.equal(json.error.type, 'rate_limit_error');
  });

  it('applies behaviour layers: start options < setBehaviour() < body.mock', async () => {
    mock.setBehaviour({ content: ['runtime'] });
    try {
      assert.equal((await post('/v1/chat/completions', chatBody())).json.choices[0].message.content, 'runtime');
      const perRequest = await post('/v1/chat/completions', chatBody({ mock: { content: ['per', '-request'] } }));
      assert.equal(perRequest.json.choices[0].message.content, 'per-request');
    } finally {
      mock.setBehaviour({});
    }
    assert.equal((await post('/v1/chat/completions', chatBody())).json.choices[0].message.content, 'Hello, world!');
  });

  it('waits before the first byte and between chunks', async () => {
    const start = performance.now();
    const res = await openRequest(`${mock.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody({ stream: true, mock: { firstByteDelayMs: 300, chunkDelayMs: 50 } }),
    });
    assert.ok(performance.now() - start >= 280, 'headers came before firstByteDelayMs');
    const events = await collectSse(res);
    assert.ok(events.at(-1).at - events[0].at >= 50 * (events.length - 1) * 0.8, 'chunks were not spaced');
  });

  it('drops the connection after K chunks, without [DONE]', async () => {
    const res = await openRequest(`${mock.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody({ stream: true, mock: { dropAfterChunks: 2 } }),
    });
    const received = [];
    await assert.rejects(async () => {
      for await (const chunk of res) received.push(chunk);
    });
    assert.equal(Buffer.concat(received).toString().match(/^data: /gm).length, 2);
  });

  it('holds a stream until released, and records when a client gives up', async () => {
    const res = await openRequest(`${mock.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody({ stream: true, mock: { holdAfterChunks: 1 } }),
    });
    const { requestId } = await mock.waitForEvent((e) => e.type === 'held');
    assert.equal(mock.releaseHeld(), 1);
    await readBody(res);
    await mock.waitForEvent((e) => e.type === 'response_finished' && e.requestId === requestId);

    const hanging = await openRequest(`${mock.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody({ stream: true, mock: { holdAfterChunks: 1 } }),
    });
    const held = await mock.waitForEvent((e) => e.type === 'held' && e.requestId !== requestId);
    const hungUpAt = performance.now();
    hanging.destroy();
    const closed = await mock.waitForEvent((e) => e.type === 'client_closed' && e.requestId === held.requestId);
    assert.ok(closed.at - hungUpAt < 500);
  });

  it('records method, path, headers and parsed body of every request', async () => {
    const before = mock.requests.length;
    await request(`${mock.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: 'Bearer up-key' }, body: chatBody({ custom_field: [1, 2] }),
    });
    const [recorded] = mock.requests.slice(before);
    assert.equal(recorded.method, 'POST');
    assert.equal(recorded.path, '/v1/chat/completions');
    assert.equal(recorded.headers.authorization, 'Bearer up-key');
    assert.deepEqual(recorded.body.custom_field, [1, 2]);
  });
});

describe('mock upstream over TLS, standalone', () => {
  let pki;
  before(() => { pki = createTestPki(); });

  it('serves https with a certificate for 127.0.0.1 signed by the test CA', async () => {
    const mock = await startMockUpstream({ tls: { cert: pki.cert, key: pki.key } });
    try {
      assert.match(mock.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await new Promise((resolve, reject) => {
        https.get(`${mock.url}/v1/models`, { ca: pki.caCert, agent: false }, resolve).on('error', reject);
      });
      assert.equal(res.statusCode, 200);
      await readBody(res);
      await assert.rejects(new Promise((resolve, reject) => {
        https.get(`${mock.url}/v1/models`, { agent: false }, resolve).on('error', reject);
      }), /self-signed|unable to (get|verify)/i);
    } finally {
      await mock.close();
    }
  });

  it('runs from the command line and prints its port', async () => {
    const script = fileURLToPath(new URL('../support/mock_upstream.mjs', import.meta.url));
    const child = spawn(process.execPath, [script, '--port', '0', '--tls-cert', pki.certPath, '--tls-key', pki.keyPath],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = await once(createInterface({ input: child.stdout }), 'line');
      const { port } = JSON.parse(line);
      assert.ok(port > 0);
      const res = await new Promise((resolve, reject) => {
        https.get(`https://localhost:${port}/v1/models`, { ca: pki.caCert, agent: false }, resolve).on('error', reject);
      });
      assert.equal(res.statusCode, 200);
      await readBody(res);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
