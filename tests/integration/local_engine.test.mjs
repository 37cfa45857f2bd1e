// The local engine (kind = "local") inside the real dsgw, on the demo model (the real R1
// tokenizer, tiny random Qwen2 weights) made in a temp dir, beside a mock remote backend and a
// local backend whose model fails to load. Seen through the official `openai` client and raw
// HTTP. The weights are random, so the answers are noise: the tests check structure, counts,
// determinism and the engine's resource handling, never the words.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';

import OpenAI from 'openai';

import { kExpectedContent, openaiClient, useGateway } from '../support/gateway.mjs';
import { makeTempDir, openaiBackend, serverConfig } from '../support/harness.mjs';
import { request, sendRequest, sseEvents } from '../support/http_client.mjs';
import {
  dsgwHasEngine, kAssistant, kBos, kThinkStart, kUser, makeDemoModel, partialModel,
} from '../support/local_model.mjs';

const kModel = 'r1-tiny';          // backend "engine": max_batch 4, 256 tokens per sequence
const kSerialModel = 'r1-serial';  // backend "engine-serial": one sequence at a time, one waiting
const kBrokenModel = 'r1-broken';  // backend "broken": no model.safetensors
// fp32 on CPU: 2 layers x (K, V) x 2 KV heads x 32 dims x 4 bytes = 1 KiB per token;
// kv_cache_mb = 1 over max_batch = 4 leaves 256 tokens per sequence.
const kContextTokens = 256;

function localBackend(modelDir, overrides) {
  return {
    kind: 'local',
    model_dir: modelDir,
    jurisdiction: 'device',
    device: 'cpu',
    dtype: 'fp32',
    threads: 1,
    prefill_chunk: 64,
    ...overrides,
  };
}

// Model directories live under one temp dir, removed when the file's tests are done (the demo
// model is ~90 MB). The demo model is made once for the whole file (a few seconds).
let scratch;
function scratchDir(name) {
  scratch ??= makeTempDir('dsgw-local-engine-');
  return path.join(scratch, name);
}
after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

let demoModel;
function demoModelDir() {
  demoModel ??= makeDemoModel(scratchDir('model'));
  return demoModel;
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

// A dsgw built without libtorch has no engine to test (its local backends are never usable).
const kNoEngine = dsgwHasEngine() ? false : `${process.env.DSGW_BIN ?? 'build/dsgw'} was built without the local engine (libtorch)`;

describe('local engine behind dsgw', { skip: kNoEngine }, () => {
  const gateway = useGateway({
    startTimeoutMs: 90000,
    // dsgw picks OpenBLAS's kernels itself unless this is set (a test below checks it).
    env: { OPENBLAS_CORETYPE: undefined },
    config: async ({ mock }) => {
      const modelDir = await demoModelDir();
      const brokenDir = partialModel(modelDir, scratchDir('broken'),
        ['config.json', 'tokenizer.json', 'tokenizer_config.json']);
      return {
        server: serverConfig(),
        backend: [
          localBackend(modelDir, { name: 'engine', models: [kModel], max_batch: 4, kv_cache_mb: 1 }),
          localBackend(modelDir, {
            name: 'engine-serial', models: [kSerialModel], max_batch: 1, kv_cache_mb: 8, max_queue: 1,
          }),
          localBackend(brokenDir, { name: 'broken', models: [kBrokenModel] }),
          openaiBackend(mock.baseUrl),
        ],
      };
    },
  });
  const client = () => openaiClient(gateway.dsgw);
  const post = (urlPath, body, options = {}) => request(`${gateway.dsgw.url}${urlPath}`, { method: 'POST', body, ...options });
  const tokenize = async (content, addSpecial) => {
    const res = await post('/tokenize', { content, add_special: addSpecial });
    assert.equal(res.status, 200, res.text);
    return res.json.tokens;
  };
  // The tokens the chat template makes of one user message.
  const chatPromptTokens = (user) => tokenize(`${kUser}${user}${kAssistant}${kThinkStart}\n`, true);

  const chatBody = (extra = {}) => ({
    model: kModel,
    messages: [{ role: 'user', content: 'Tell me about the sea.' }],
    temperature: 0,
    max_tokens: 12,
    ...extra,
  });

  it('lists the local models in /v1/models', async () => {
    const models = await client().models.list();
    const owners = Object.fromEntries(models.data.map((m) => [m.id, m.owned_by]));
    assert.equal(owners[kModel], 'engine');
    assert.equal(owners[kSerialModel], 'engine-serial');
    assert.equal(owners.m1, 'mock');
  });

  it("runs prefill on OpenBLAS kernels that fit this CPU (OpenBLAS falls back to SSE3 on CPUs it does not know)", () => {
    const loaded = gateway.dsgw.logs.find((l) => l?.event === 'engine.loaded' && l.backend === 'engine');
    assert.ok(loaded, 'an engine.loaded line for backend "engine"');
    // Debian's libtorch reaches BLAS through OpenBLAS, which tools/install-deps.sh installs.
    const core = loaded.model.match(/prefill on OpenBLAS (\w+(?:\(SSE3\))?)/)?.[1];
    assert.ok(core, `the load line names the OpenBLAS core: ${loaded.model}`);
    assert.doesNotMatch(loaded.model, /did not take it/);
    const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? [];
    if (flags.includes('avx2') && flags.includes('fma')) {
      // OpenBLAS's fallbacks from before AVX2 (backends/local/model/openblas_core.cpp).
      const preAvx2 = /^(unknown|katmai|coppermine|northwood|prescott|banias|yonah|atom|core2|penryn|dunnington|nehalem|athlon|opteron|opteron_sse3|opteron\(sse3\)|barcelona|nano|sandybridge|bobcat|bulldozer|piledriver|steamroller)$/i;
      assert.doesNotMatch(core, preAvx2, `OpenBLAS ${core} on a CPU with AVX2: ${loaded.model}`);
    }
  });

  it('reports the loaded engine usable and the broken model not, with the reason, in /readyz', async () => {
    const res = await request(`${gateway.dsgw.url}/readyz`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'ready');
    const byName = Object.fromEntries(res.json.backends.map((b) => [b.name, b]));
    assert.deepEqual(byName.engine, { name: 'engine', kind: 'local', usable: true });
    assert.equal(byName['engine-serial'].usable, true);
    assert.equal(byName.broken.kind, 'local');
    assert.equal(byName.broken.usable, false);
    assert.match(byName.broken.reason, /model\.safetensors/);
    assert.equal(byName.mock.usable, true);
    // The daemon logged the failed load once, naming the backend.
    const failed = gateway.dsgw.logs.filter((l) => l?.event === 'engine.load_failed');
    assert.deepEqual(failed.map((l) => l.backend), ['broken']);
  });

  it('answers a chat: reasoning only (random weights never close <think>), exact usage, X-Dsgw-Backend', async () => {
    const { data, response } = await client().chat.completions.create(chatBody()).withResponse();
    assert.equal(response.headers.get('x-dsgw-backend'), 'engine');
    assert.ok(response.headers.get('x-request-id'));
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, kModel);
    const [choice] = data.choices;
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.reasoning_content, 'string');
    assert.ok(choice.message.reasoning_content.length > 0);
    assert.equal(choice.message.content, '');
    assert.ok(['length', 'stop'].includes(choice.finish_reason), choice.finish_reason);
    const prompt = await chatPromptTokens('Tell me about the sea.');
    assert.equal(data.usage.prompt_tokens, prompt.length);
    if (choice.finish_reason === 'length') assert.equal(data.usage.completion_tokens, 12);
    assert.ok(data.usage.completion_tokens >= 1 && data.usage.completion_tokens <= 12);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
  });

  it('max_tokens = 1 gives one token with finish_reason length', async () => {
    const data = await client().chat.completions.create(chatBody({ max_tokens: 1 }));
    assert.equal(data.usage.completion_tokens, 1);
    assert.equal(data.choices[0].finish_reason, 'length');
  });

  it('is deterministic at temperature 0, for chats and raw completions', async () => {
    const [a, b] = await Promise.all([
      client().chat.completions.create(chatBody()),
      client().chat.completions.create(chatBody()),
    ]);
    const c = await client().chat.completions.create(chatBody());
    assert.deepEqual(a.choices, b.choices);
    assert.deepEqual(a.choices, c.choices);
    assert.deepEqual(a.usage, c.usage);
    const body = { model: kModel, prompt: 'Once upon a time', temperature: 0, max_tokens: 10 };
    const r1 = await client().completions.create(body);
    const r2 = await client().completions.create(body);
    assert.equal(r1.choices[0].text, r2.choices[0].text);
  });

  it('seeds sampling: the same seed repeats, another seed differs', async () => {
    const body = (seed) => chatBody({ temperature: 1, seed, max_tokens: 16 });
    const a = await client().chat.completions.create(body(7));
    const b = await client().chat.completions.create(body(7));
    const c = await client().chat.completions.create(body(8));
    assert.equal(a.choices[0].message.reasoning_content, b.choices[0].message.reasoning_content);
    assert.notEqual(a.choices[0].message.reasoning_content, c.choices[0].message.reasoning_content);
  });

  it('streams the same answer as the non-stream request, with an include_usage chunk', async () => {
    const whole = await client().chat.completions.create(chatBody());
    const { data: stream, response } = await client().chat.completions
      .create(chatBody({ stream: true, stream_options: { include_usage: true } })).withResponse();
    assert.equal(response.headers.get('x-dsgw-backend'), 'engine');
    const chunks = await collect(stream);
    const usageChunks = chunks.filter((c) => c.usage);
    assert.equal(usageChunks.length, 1);
    assert.equal(chunks.at(-1), usageChunks[0], 'the usage chunk comes last');
    assert.deepEqual(usageChunks[0].choices, []);
    assert.deepEqual(usageChunks[0].usage, whole.usage);

    const choiceChunks = chunks.filter((c) => c.choices.length > 0);
    let reasoning = '';
    let content = '';
    let sawContent = false;
    for (const chunk of choiceChunks) {
      const { delta } = chunk.choices[0];
      if (delta.content) {
        content += delta.content;
        sawContent = true;
      }
      if (delta.reasoning_content) {
        assert.ok(!sawContent, 'reasoning_content after content');
        reasoning += delta.reasoning_content;
      }
    }
    assert.ok(choiceChunks.filter((c) => c.choices[0].delta.reasoning_content).length > 1, 'one chunk per token or so');
    assert.equal(reasoning, whole.choices[0].message.reasoning_content);
    assert.equal(content, whole.choices[0].message.content ?? '');
    const finishes = choiceChunks.map((c) => c.choices[0].finish_reason).filter((f) => f);
    assert.deepEqual(finishes, [whole.choices[0].finish_reason]);
    assert.equal(choiceChunks.at(-1).choices[0].finish_reason, whole.choices[0].finish_reason);
    for (const c of chunks) assert.equal(c.model, kModel);
  });

  it('streams content (no reasoning) after an assistant prefill that closed the reasoning', async () => {
    const messages = [
      { role: 'user', content: 'Say something.' },
      { role: 'assistant', content: '<think>\nok\n</think>\n\nSure:' },
    ];
    const whole = await client().chat.completions.create(chatBody({ messages }));
    assert.ok(!whole.choices[0].message.reasoning_content, JSON.stringify(whole.choices[0].message));
    assert.ok(whole.choices[0].message.content.length > 0);
    const chunks = await collect(await client().chat.completions.create(chatBody({ messages, stream: true })));
    const deltas = chunks.filter((c) => c.choices.length > 0).map((c) => c.choices[0].delta);
    assert.ok(deltas.every((d) => !d.reasoning_content));
    assert.equal(deltas.map((d) => d.content ?? '').join(''), whole.choices[0].message.content);
  });

  it('stops at a stop string taken from a greedy run, without emitting it', async () => {
    const body = { model: kModel, prompt: 'The quick brown fox', temperature: 0, max_tokens: 24 };
    const first = (await client().completions.create(body)).choices[0].text;
    const chars = [...first];
    assert.ok(chars.length >= 8, JSON.stringify(first));
    let at = -1;
    let stop = '';
    for (let k = Math.floor(chars.length / 2); k > 0 && at < 0; --k) {
      const candidate = chars.slice(k, k + 3).join('');
      const offset = chars.slice(0, k).join('').length;
      if (first.indexOf(candidate) === offset) [at, stop] = [offset, candidate];
    }
    assert.ok(at > 0, `no usable stop string in ${JSON.stringify(first)}`);
    const stopped = await client().completions.create({ ...body, stop: [stop] });
    assert.equal(stopped.choices[0].finish_reason, 'stop');
    assert.equal(stopped.choices[0].text, first.slice(0, at));
  });

  it('runs raw /v1/completions on the prompt as given: BOS + tokens, no reasoning split', async () => {
    const prompt = `${kUser}Once upon a time${kAssistant}</think>`;
    const { data, response } = await client().completions
      .create({ model: kModel, prompt, temperature: 0, max_tokens: 8 }).withResponse();
    assert.equal(response.headers.get('x-dsgw-backend'), 'engine');
    assert.equal(data.object, 'text_completion');
    assert.equal(typeof data.choices[0].text, 'string');
    assert.ok(data.choices[0].text.length > 0);
    assert.equal(data.usage.prompt_tokens, (await tokenize(prompt, true)).length);
    assert.equal(data.usage.completion_tokens_details?.reasoning_tokens ?? 0, 0);
    if (data.choices[0].finish_reason === 'length') assert.equal(data.usage.completion_tokens, 8);
  });

  it('/tokenize and /detokenize round-trip; add_special puts the BOS first', async () => {
    const text = 'Hello, world! 你好 🙂';
    const [bos] = await tokenize(kBos, false);
    const withBos = await tokenize(text, true);
    const plain = await tokenize(text, false);
    assert.equal(withBos[0], bos);
    assert.deepEqual(withBos.slice(1), plain);
    assert.ok(!plain.includes(bos));
    const res = await post('/tokenize', { content: text });
    assert.deepEqual(res.json.tokens, plain, 'add_special defaults to false');
    assert.equal(res.headers['x-dsgw-backend'], 'engine');

    const back = await post('/detokenize', { tokens: plain });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.json.content, text);
    assert.equal((await post('/detokenize', { tokens: withBos })).json.content, kBos + text);
    // Specials written in the text are parsed (the caller means them).
    const user = await tokenize(kUser, false);
    assert.equal(user.length, 1);

    const bad = await post('/tokenize', { content: 7 });
    assert.equal(bad.status, 400);
    const unknown = await post('/detokenize', { tokens: [1e9] });
    assert.equal(unknown.status, 400);
  });

  it('refuses a prompt longer than the context with 400 context_length_exceeded', async () => {
    const huge = 'word '.repeat(400);
    const promptTokens = (await chatPromptTokens(huge)).length;
    assert.ok(promptTokens > kContextTokens);
    await assert.rejects(
      client().chat.completions.create(chatBody({ messages: [{ role: 'user', content: huge }] })),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `${err.constructor.name}: ${err.message}`);
        assert.equal(err.status, 400);
        assert.equal(err.code, 'context_length_exceeded');
        assert.equal(err.param, 'messages');
        assert.match(err.message, new RegExp(`\\b${promptTokens} tokens\\b`));
        assert.match(err.message, new RegExp(`\\b${kContextTokens} tokens\\b`));
        assert.equal(err.headers.get('x-dsgw-backend'), 'engine');
        return true;
      },
    );
    // A stream request gets the same error before any byte of a stream.
    const res = await post('/v1/chat/completions',
      chatBody({ stream: true, messages: [{ role: 'user', content: huge }] }));
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'context_length_exceeded');
  });

  it('answers 503 backend_unavailable for the model that failed to load while the others work', async () => {
    await assert.rejects(
      client().chat.completions.create(chatBody({ model: kBrokenModel })),
      (err) => {
        assert.equal(err.status, 503);
        assert.equal(err.code, 'backend_unavailable');
        assert.match(err.message, /model\.safetensors/);
        return true;
      },
    );
    const remote = await client().chat.completions.create({ model: 'm1', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(remote.choices[0].message.content, kExpectedContent);
    const local = await client().chat.completions.create(chatBody({ max_tokens: 2 }));
    assert.equal(local.usage.completion_tokens, 2);
  });

  it('frees the engine when a streaming client hangs up', async () => {
    // engine-serial runs one sequence at a time; this one would take ~3000 steps.
    const long = await startLongStream();
    const hungUpAt = performance.now();
    long.hangUp();
    await gateway.dsgw.waitForLog((l) => l?.event === 'request.client_gone' && l.request_id === long.requestId,
      { timeoutMs: 5000 });
    const next = await client().chat.completions.create(chatBody({ model: kSerialModel, max_tokens: 4 }));
    const ms = performance.now() - hungUpAt;
    assert.equal(next.usage.completion_tokens, 4);
    assert.ok(ms < 3000, `the next request finished ${Math.round(ms)} ms after the hang-up`);
  });

  // Starts a stream on engine-serial that runs ~3000 steps unless hung up; resolves once the
  // first event arrived, with hangUp() and the request id.
  async function startLongStream() {
    const body = chatBody({ model: kSerialModel, stream: true, max_tokens: 3000 });
    const { request: req, response } = sendRequest(`${gateway.dsgw.url}/v1/chat/completions`, { method: 'POST', body });
    const res = await response;
    assert.equal(res.statusCode, 200);
    const events = sseEvents(res);
    const first = await events.next();
    assert.equal(first.value.json.choices[0].finish_reason, null);
    return {
      requestId: res.headers['x-request-id'],
      hangUp: () => {
        req.destroy();
        res.destroy();
      },
    };
  }

  it('answers 429 overloaded with Retry-After when the engine\'s queue is full', async () => {
    const long = await startLongStream();
    try {
      // One of these waits for the slot (max_queue 1), the other finds the queue full.
      const send = () => post('/v1/chat/completions', chatBody({ model: kSerialModel, max_tokens: 2 }));
      const first = send();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = send();
      const refused = await Promise.race([first, second]);
      assert.equal(refused.status, 429, refused.text);
      assert.equal(refused.json.error.code, 'overloaded');
      assert.equal(refused.json.error.type, 'rate_limit_error');
      assert.ok(Number(refused.headers['retry-after']) >= 1, `Retry-After: ${refused.headers['retry-after']}`);
      assert.equal(refused.headers['x-dsgw-backend'], 'engine-serial');
      long.hangUp();
      const [a, b] = await Promise.all([first, second]);
      assert.deepEqual([a.status, b.status].sort(), [200, 429]);
    } finally {
      long.hangUp();
    }
  });

  // A non-streamed request runs on its request thread; the daemon's disconnect watch must still
  // notice its client leaving and free the engine, as for a stream.
  it('frees the engine when a non-streaming client hangs up', async () => {
    const body = chatBody({ model: kSerialModel, max_tokens: 3000 });
    const { request: req, response } = sendRequest(`${gateway.dsgw.url}/v1/chat/completions`, { method: 'POST', body });
    response.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    const hungUpAt = performance.now();
    req.destroy();
    const next = await client().chat.completions.create(chatBody({ model: kSerialModel, max_tokens: 4 }));
    const ms = performance.now() - hungUpAt;
    assert.equal(next.usage.completion_tokens, 4);
    assert.ok(ms < 3000, `the next request finished ${Math.round(ms)} ms after the hang-up`);
  });
});

describe('reloading local backends (SIGHUP)', { skip: kNoEngine }, () => {
  const state = {};
  const configWith = ({ kvCacheMb }) => ({
    server: serverConfig(),
    backend: [
      localBackend(state.modelDir, { name: 'engine', models: [kModel], max_batch: 4, kv_cache_mb: kvCacheMb }),
      localBackend(state.brokenDir, { name: 'broken', models: [kBrokenModel] }),
    ],
  });
  const gateway = useGateway({
    startTimeoutMs: 90000,
    config: async () => {
      state.modelDir = await demoModelDir();
      state.brokenDir = partialModel(state.modelDir, scratchDir('broken-for-reload'),
        ['config.json', 'tokenizer.json', 'tokenizer_config.json']);
      return configWith({ kvCacheMb: 1 });
    },
  });
  const loads = () => gateway.dsgw.logs.filter((l) => l?.event === 'engine.loaded').length;
  const readyz = async () => {
    const res = await request(`${gateway.dsgw.url}/readyz`);
    return Object.fromEntries(res.json.backends.map((b) => [b.name, b]));
  };
  const hugeChat = () => openaiClient(gateway.dsgw).chat.completions.create({
    model: kModel, messages: [{ role: 'user', content: 'word '.repeat(400) }], temperature: 0, max_tokens: 2,
  });

  it('keeps a loaded engine when its settings did not change', async () => {
    const before = loads();
    const result = await gateway.dsgw.reload(configWith({ kvCacheMb: 1 }));
    assert.equal(result.event, 'config.reloaded', JSON.stringify(result));
    assert.equal(loads(), before, 'the model was loaded again');
    const chat = await openaiClient(gateway.dsgw).chat.completions.create({
      model: kModel, messages: [{ role: 'user', content: 'hi' }], temperature: 0, max_tokens: 2,
    });
    assert.equal(chat.usage.completion_tokens, 2);
  });

  it('loads the engine anew when its settings changed (here: a larger context)', async () => {
    await assert.rejects(hugeChat(), (err) => err.code === 'context_length_exceeded');
    const before = loads();
    const result = await gateway.dsgw.reload(configWith({ kvCacheMb: 2 }));  // 512 tokens per sequence
    assert.equal(result.event, 'config.reloaded', JSON.stringify(result));
    assert.equal(loads(), before + 1);
    const chat = await hugeChat();
    assert.ok(chat.usage.prompt_tokens > kContextTokens);
    assert.equal(chat.usage.completion_tokens, 2);
  });

  // A reload keeps loaded local models, but retries one that failed to load.
  it('retries a local backend whose model failed to load once its files are fixed', async () => {
    assert.equal((await readyz()).broken.usable, false);
    partialModel(state.modelDir, state.brokenDir, ['model.safetensors']);
    const result = await gateway.dsgw.reload(configWith({ kvCacheMb: 2 }));
    assert.equal(result.event, 'config.reloaded', JSON.stringify(result));
    const broken = (await readyz()).broken;
    assert.equal(broken.usable, true, broken.reason);
  });
});
