// dsgw as the official `openai` npm client sees it.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';

import OpenAI from 'openai';

import {
  chatBody, kExpectedContent, kExpectedReasoning, openaiClient, postToDsgw, useGateway,
} from '../support/gateway.mjs';
import { closedPort, openaiBackend, serverConfig, sha256Hex } from '../support/harness.mjs';
import { readBody } from '../support/http_client.mjs';
import { kDefaultBehaviour } from '../support/mock_upstream.mjs';

const kClientKey = 'sk-dsgw-test-client-0123456789';
const kUpstreamKey = 'sk-upstream-test-9876543210';
const kMaxInflight = 2;
const kFirstByteTimeoutMs = 1000;
const kTotalTimeoutMs = 1000;

const kPromptTokens = kDefaultBehaviour.promptTokens;
const kCompletionTokens = kDefaultBehaviour.reasoning.length + kDefaultBehaviour.content.length;

const kWeatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

// Rejects unless `promise` fails with an instance of `errorClass` carrying this status and error
// code, an X-Request-Id, and an X-Dsgw-Backend header among `backends`.
async function assertApiError(promise, errorClass, { status, code, backends }) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof errorClass, `expected ${errorClass.name}, got ${err.constructor.name}: ${err.message}`);
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    assert.ok(err.requestID, 'no X-Request-Id header');
    assert.ok(backends.includes(err.headers.get('x-dsgw-backend')), `X-Dsgw-Backend: ${err.headers.get('x-dsgw-backend')}`);
    return true;
  });
}

describe('openai client against dsgw', () => {
  const gateway = useGateway({
    env: { DSGW_TEST_UPSTREAM_KEY: kUpstreamKey },
    config: async ({ mock }) => ({
      server: serverConfig({ max_inflight: kMaxInflight, workers: 16 }),
      api_key: [{ sha256: sha256Hex(kClientKey), tenant: 'team-a' }],
      backend: [
        openaiBackend(mock.baseUrl, { api_key_env: 'DSGW_TEST_UPSTREAM_KEY', first_byte_timeout_ms: kFirstByteTimeoutMs }),
        openaiBackend(`http://127.0.0.1:${await closedPort()}/v1`, { name: 'dead', models: ['dead-model'] }),
        openaiBackend(mock.baseUrl, { name: 'keyless', models: ['keyless-model'], api_key_env: 'DSGW_TEST_KEY_THAT_IS_NOT_SET' }),
        openaiBackend(mock.baseUrl, { name: 'impatient', models: ['impatient-model'], total_timeout_ms: kTotalTimeoutMs }),
      ],
    }),
  });
  const client = () => openaiClient(gateway.dsgw, { apiKey: kClientKey });
  const lastUpstreamRequest = () => gateway.mock.generations().at(-1);

  describe('chat completions', () => {
    it('returns content and reasoning_content under the model name the client asked for', async () => {
      const completion = await client().chat.completions.create(chatBody());
      assert.equal(completion.object, 'chat.completion');
      assert.match(completion.id, /^chatcmpl-/);
      assert.equal(completion.model, 'm1');
      const { message } = completion.choices[0];
      assert.equal(message.content, kExpectedContent);
      assert.equal(message.reasoning_content, kExpectedReasoning);
      assert.equal(completion.choices[0].finish_reason, 'stop');
      assert.deepEqual(
        [completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens],
        [kPromptTokens, kCompletionTokens, kPromptTokens + kCompletionTokens],
      );
    });

    it('asks the upstream for its own model id, with the messages unchanged', async () => {
      const request = chatBody({ model: 'alias' });
      const completion = await client().chat.completions.create(request);
      assert.equal(completion.model, 'alias');
      const upstream = lastUpstreamRequest();
      assert.equal(upstream.path, '/v1/chat/completions');
      assert.equal(upstream.body.model, 'upstream-model-id');
      assert.deepEqual(upstream.body.messages, request.messages);
    });

    it("sends the backend's key upstream, never the client's", async () => {
      await client().chat.completions.create(chatBody());
      const { headers } = lastUpstreamRequest();
      assert.equal(headers.authorization, `Bearer ${kUpstreamKey}`);
      assert.ok(!JSON.stringify(headers).includes(kClientKey));
    });

    it('streams reasoning deltas before content deltas, then the finish reason', async () => {
      const chunks = await collect(await client().chat.completions.create(chatBody({ stream: true })));
      assert.ok(chunks.every((c) => c.model === 'm1' && c.id.startsWith('chatcmpl-')));
      const deltas = chunks.flatMap((c) => c.choices.map((choice) => choice.delta));
      const reasoning = deltas.map((d) => d.reasoning_content ?? '').join('');
      const content = deltas.map((d) => d.content ?? '').join('');
      assert.equal(reasoning, kExpectedReasoning);
      assert.equal(content, kExpectedContent);
      assert.ok(deltas.findLastIndex((d) => d.reasoning_content) < deltas.findIndex((d) => d.content),
        'a reasoning delta came after a content delta');
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
      assert.ok(chunks.every((c) => !c.usage), 'usage chunk sent without stream_options.include_usage');
      assert.equal(lastUpstreamRequest().body.stream, true);
    });

    it('ends the stream with one usage chunk when include_usage is set', async () => {
      const chunks = await collect(await client().chat.completions.create(
        chatBody({ stream: true, stream_options: { include_usage: true } })));
      const withUsage = chunks.filter((c) => c.usage);
      assert.equal(withUsage.length, 1);
      assert.equal(chunks.at(-1), withUsage[0], 'usage chunk is not the last one');
      assert.deepEqual(withUsage[0].choices, []);
      assert.equal(withUsage[0].usage.prompt_tokens, kPromptTokens);
      assert.equal(withUsage[0].usage.completion_tokens, kCompletionTokens);
      assert.equal(withUsage[0].usage.total_tokens, kPromptTokens + kCompletionTokens);
    });
  });

  describe('passthrough', () => {
    it('forwards tools, tool_choice, response_format and unknown fields; returns tool_calls', async () => {
      const request = chatBody({
        tools: [kWeatherTool],
        tool_choice: 'auto',
        response_format: { type: 'text' },
        seed: 7,
        vendor_extension: { nested: [1, 'two', null], flag: true },
      });
      const completion = await client().chat.completions.create(request);
      const upstream = lastUpstreamRequest().body;
      for (const key of ['tools', 'tool_choice', 'response_format', 'seed', 'vendor_extension']) {
        assert.deepEqual(upstream[key], request[key], `${key} changed on the way upstream`);
      }
      assert.equal(completion.choices[0].finish_reason, 'tool_calls');
      assert.deepEqual(completion.choices[0].message.tool_calls, [{
        id: 'call_mock_0', type: 'function', function: { name: 'get_weather', arguments: kDefaultBehaviour.toolArguments },
      }]);
    });

    it('streams delta.tool_calls', async () => {
      const chunks = await collect(await client().chat.completions.create(chatBody({ stream: true, tools: [kWeatherTool] })));
      const calls = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? []));
      assert.equal(calls[0].function.name, 'get_weather');
      assert.equal(calls.map((call) => call.function.arguments ?? '').join(''), kDefaultBehaviour.toolArguments);
      assert.equal(chunks.findLast((c) => c.choices.length).choices[0].finish_reason, 'tool_calls');
    });

    it('returns choices[].logprobs', async () => {
      const completion = await client().chat.completions.create(chatBody({ logprobs: true, top_logprobs: 2 }));
      assert.equal(lastUpstreamRequest().body.top_logprobs, 2);
      const tokens = completion.choices[0].logprobs.content.map((entry) => entry.token);
      assert.deepEqual(tokens, kDefaultBehaviour.content);
    });
  });

  describe('other endpoints', () => {
    it('serves /v1/completions', async () => {
      const completion = await client().completions.create({ model: 'm1', prompt: 'Say hello.' });
      assert.equal(completion.model, 'm1');
      assert.equal(completion.choices[0].text, kExpectedContent);
      const upstream = lastUpstreamRequest();
      assert.equal(upstream.path, '/v1/completions');
      assert.equal(upstream.body.prompt, 'Say hello.');
      assert.equal(upstream.body.model, 'upstream-model-id');
    });

    it('streams /v1/completions', async () => {
      const chunks = await collect(await client().completions.create({ model: 'alias', prompt: 'Say hello.', stream: true }));
      assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), kExpectedContent);
      assert.ok(chunks.every((c) => c.model === 'alias'));
    });

    it('lists the configured model names with their backend as owner', async () => {
      const models = [];
      for await (const model of client().models.list()) models.push(model);
      const byId = new Map(models.map((m) => [m.id, m]));
      assert.equal(byId.size, models.length, 'duplicate model ids');
      for (const id of ['m1', 'alias']) {
        assert.equal(byId.get(id)?.owned_by, 'mock', `${id} missing or not owned by "mock"`);
        assert.equal(byId.get(id).object, 'model');
      }
      assert.equal(byId.get('dead-model')?.owned_by, 'dead');
      assert.ok(!byId.has('upstream-model-id'), 'lists the upstream id instead of the client-facing names');
    });
  });

  describe('errors', () => {
    it('400 for a request of the wrong shape', async () => {
      await assertApiError(client().chat.completions.create({ model: 'm1', messages: 'not a list' }),
        OpenAI.BadRequestError, { status: 400, code: 'invalid_type', backends: ['none'] });
    });

    it('401 for an unknown key, without calling the upstream', async () => {
      const before = gateway.mock.generations().length;
      await assertApiError(openaiClient(gateway.dsgw, { apiKey: 'sk-not-a-key' }).chat.completions.create(chatBody()),
        OpenAI.AuthenticationError, { status: 401, code: 'invalid_api_key', backends: ['none'] });
      assert.equal(gateway.mock.generations().length, before);
    });

    it('404 for an unknown model', async () => {
      await assertApiError(client().chat.completions.create(chatBody({ model: 'no-such-model' })),
        OpenAI.NotFoundError, { status: 404, code: 'model_not_found', backends: ['none'] });
    });

    it('429 with Retry-After, promptly, once max_inflight generations are running', async () => {
      const auth = { authorization: `Bearer ${kClientKey}` };
      const running = [];
      for (let i = 0; i < kMaxInflight; i++) {
        running.push(await postToDsgw(gateway.dsgw, '/v1/chat/completions',
          chatBody({ stream: true, mock: { holdAfterChunks: 2 } }), { headers: auth }));
      }
      try {
        await gateway.mock.waitForHeld(kMaxInflight);
        const start = performance.now();
        await assert.rejects(client().chat.completions.create(chatBody()), (err) => {
          assert.ok(err instanceof OpenAI.RateLimitError, `got ${err.constructor.name}: ${err.message}`);
          assert.equal(err.code, 'overloaded');
          assert.match(err.headers.get('retry-after') ?? '', /^\d+$/);
          return true;
        });
        assert.ok(performance.now() - start < 2000, 'the 429 was not prompt');
      } finally {
        gateway.mock.releaseHeld();
        for (const res of running) await readBody(res);
      }
      assert.deepEqual(running.map((res) => res.statusCode), [200, 200]);
    });

    it('502 when the upstream answers 5xx', async () => {
      await assertApiError(client().chat.completions.create(chatBody({ mock: { status: 500 } })),
        OpenAI.InternalServerError, { status: 502, code: 'upstream_error', backends: ['mock'] });
    });

    it('503 when the upstream refuses connections', async () => {
      await assertApiError(client().chat.completions.create(chatBody({ model: 'dead-model' })),
        OpenAI.InternalServerError, { status: 503, code: 'backend_unavailable', backends: ['dead'] });
    });

    it('503 when the backend has no API key, without calling the upstream', async () => {
      const before = gateway.mock.generations().length;
      await assertApiError(client().chat.completions.create(chatBody({ model: 'keyless-model' })),
        // Whether a backend that cannot be used counts as chosen is the daemon's call.
        OpenAI.InternalServerError, { status: 503, code: 'backend_unavailable', backends: ['keyless', 'none'] });
      assert.equal(gateway.mock.generations().length, before);
    });

    it('504 when a stream sends nothing within first_byte_timeout_ms', async () => {
      const start = performance.now();
      await assertApiError(client().chat.completions.create(chatBody({ stream: true, mock: { hang: true } })),
        OpenAI.InternalServerError, { status: 504, code: 'upstream_timeout', backends: ['mock'] });
      assert.ok(performance.now() - start < kFirstByteTimeoutMs * 3, 'dsgw waited far past first_byte_timeout_ms');
    });

    it('504 when an answer takes longer than total_timeout_ms', async () => {
      const start = performance.now();
      await assertApiError(client().chat.completions.create(chatBody({ model: 'impatient-model', mock: { hang: true } })),
        OpenAI.InternalServerError, { status: 504, code: 'upstream_timeout', backends: ['impatient'] });
      assert.ok(performance.now() - start < kTotalTimeoutMs * 3, 'dsgw waited far past total_timeout_ms');
    });

    it("429 with the upstream's Retry-After when the upstream is rate limited", async () => {
      await assert.rejects(client().chat.completions.create(chatBody({ mock: { status: 429, retryAfter: 7 } })), (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `got ${err.constructor.name}: ${err.message}`);
        assert.equal(err.headers.get('retry-after'), '7');
        return true;
      });
    });

    it("the upstream's own 4xx status and message", async () => {
      const errorMessage = 'upstream says: max_tokens is too large';
      await assert.rejects(client().chat.completions.create(chatBody({ mock: { status: 422, errorMessage } })), (err) => {
        assert.ok(err instanceof OpenAI.UnprocessableEntityError, `got ${err.constructor.name}: ${err.message}`);
        assert.equal(err.status, 422);
        assert.ok(err.message.includes(errorMessage), `message "${err.message}" lost the upstream's text`);
        return true;
      });
    });
  });
});
