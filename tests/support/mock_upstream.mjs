// A misbehaving OpenAI-compatible upstream for dsgw's integration tests.
//
//   import { startMockUpstream } from './mock_upstream.mjs';
//   const mock = await startMockUpstream({ behaviour: { chunkDelayMs: 300 } });
//   ... point a dsgw backend at mock.baseUrl ...
//   await mock.close();
//
// or standalone:  node tests/support/mock_upstream.mjs --port 0 [--tls-cert F --tls-key F]
//                 [--behaviour '{"chunkDelayMs":300}']   (prints {"port":N} on stdout)
//
// Behaviour comes in three layers, later ones winning key by key: the options at start, the
// runtime layer set by setBehaviour(), and a `mock` object in the request body (dsgw forwards
// unknown body fields unchanged, so a test can script one request through the gateway):
//
//   reasoning, content       arrays of pieces; each piece is one stream chunk
//   status                   answer with this HTTP status and an OpenAI error body instead
//   errorMessage, errorCode  that error body's message and code
//   retryAfter               Retry-After header (seconds) on that error
//   firstByteDelayMs         wait this long before sending the status line
//   chunkDelayMs             wait this long between stream chunks
//   dropAfterChunks: K       stream: destroy the socket after K data events;
//                            non-stream: destroy it without answering
//   holdAfterChunks: K       stream: after K data events, wait until releaseHeld()
//   hang                     never answer (the socket stays open until the client gives up)
//   toolCalls                tool_calls to answer with (default: call the first offered tool)
//   toolArguments            arguments string of that default call
//   promptTokens, promptCacheHitTokens   usage numbers
//   requireApiKey            answer 401 unless "Authorization: Bearer <this>"
//
// Everything it receives is recorded in `requests`, and the life of each exchange in `events`
// (at = performance.now() milliseconds, the same clock the tests read).

import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import {
  chatCompletion, chatCompletionChunks, errorBody, modelList, textCompletion, textCompletionChunks,
} from './mock_payloads.mjs';

export const kDefaultBehaviour = Object.freeze({
  reasoning: ['Let me ', 'think', ' about it.'],
  content: ['Hello', ', ', 'world', '!'],
  status: undefined,
  errorMessage: 'mock upstream error',
  errorCode: null,
  retryAfter: undefined,
  firstByteDelayMs: 0,
  chunkDelayMs: 0,
  dropAfterChunks: undefined,
  holdAfterChunks: undefined,
  hang: false,
  toolCalls: undefined,
  toolArguments: '{"echo":true}',
  promptTokens: 11,
  promptCacheHitTokens: 3,
  requireApiKey: undefined,
});

class Exchange {
  constructor(id, req, res, mock) {
    this.id = id;
    this.req = req;
    this.res = res;
    this.mock = mock;
    this.dropped = false;
    this.abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished && !this.dropped) mock.record('client_closed', id);
      this.abort.abort();
    });
  }

  get closed() {
    return this.abort.signal.aborted;
  }

  // Resolves false instead of throwing when the client went away meanwhile.
  async wait(ms) {
    if (ms <= 0) return !this.closed;
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
      return true;
    } catch {
      return false;
    }
  }

  sendJson(status, payload, headers = {}) {
    if (this.closed) return;
    this.res.writeHead(status, { 'content-type': 'application/json', ...headers });
    this.mock.record('response_started', this.id);
    this.res.end(JSON.stringify(payload), () => this.mock.record('response_finished', this.id));
  }

  drop() {
    this.dropped = true;
    this.mock.record('dropped', this.id);
    this.req.socket.destroy();
  }

  async streamEvents(payloads, behaviour) {
    this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    this.res.flushHeaders();
    this.mock.record('response_started', this.id);
    const events = [...payloads.map((p) => JSON.stringify(p)), '[DONE]'];
    for (const [index, data] of events.entries()) {
      if (index > 0 && !(await this.wait(behaviour.chunkDelayMs))) return;
      if (index === behaviour.dropAfterChunks) return this.drop();
      if (index === behaviour.holdAfterChunks && !(await this.mock.holdUntilReleased(this))) return;
      if (this.closed) return;
      // Waiting for each write to reach the socket keeps a later drop() from discarding it.
      await new Promise((resolve) => this.res.write(`data: ${data}\n\n`, resolve));
    }
    this.res.end(() => this.mock.record('response_finished', this.id));
  }
}

const kRoutes = {
  'POST /v1/chat/completions': { full: chatCompletion, chunks: chatCompletionChunks, needs: 'messages', idPrefix: 'chatcmpl-mock-' },
  'POST /v1/completions': { full: textCompletion, chunks: textCompletionChunks, needs: 'prompt', idPrefix: 'cmpl-mock-' },
};

class MockUpstream extends EventEmitter {
  constructor({ behaviour = {}, models = ['upstream-model-id'] } = {}) {
    super();
    this.setMaxListeners(0); // one listener per waiting test helper, possibly hundreds
    this.baseBehaviour = { ...kDefaultBehaviour, ...behaviour };
    this.runtimeBehaviour = {};
    this.models = models;
    this.requests = [];
    this.events = [];
    this.held = new Set();
    this.nextId = 1;
  }

  record(type, requestId) {
    const event = { type, requestId, at: performance.now() };
    this.events.push(event);
    this.emit('event', event);
  }

  setBehaviour(behaviour = {}) {
    this.runtimeBehaviour = { ...behaviour };
  }

  behaviourFor(body) {
    const perRequest = body && typeof body.mock === 'object' ? body.mock : {};
    return { ...this.baseBehaviour, ...this.runtimeBehaviour, ...perRequest };
  }

  // Resolves true once releaseHeld() is called, false if the client leaves first.
  holdUntilReleased(exchange) {
    if (exchange.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = { release: () => resolve(true) };
      this.held.add(entry);
      exchange.abort.signal.addEventListener('abort', () => {
        this.held.delete(entry);
        resolve(false);
      });
      this.record('held', exchange.id);
    });
  }

  releaseHeld() {
    const entries = [...this.held];
    this.held.clear();
    for (const entry of entries) entry.release();
    return entries.length;
  }

  // Resolves with the first truthy value of `probe()`, tried now and after every event.
  waitUntil(probe, timeoutMs, describeFailure) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (!value) return;
        clearTimeout(timer);
        this.off('event', check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.off('event', check);
        reject(new Error(`mock upstream: ${describeFailure()} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', check);
      check();
    });
  }

  // The first recorded event, past or future, matching `predicate`.
  waitForEvent(predicate, timeoutMs = 5000) {
    return this.waitUntil(() => this.events.find(predicate), timeoutMs, () => 'no matching event');
  }

  // Resolves once at least `count` streams are being held at the same time.
  waitForHeld(count, timeoutMs = 5000) {
    return this.waitUntil(() => this.held.size >= count, timeoutMs, () => `${this.held.size} of ${count} streams held`);
  }

  waitForRequests(count, timeoutMs = 5000) {
    return this.waitUntil(() => this.requests.length >= count, timeoutMs,
      () => `${this.requests.length} of ${count} requests`);
  }

  async handle(req, res) {
    const id = this.nextId++;
    const exchange = new Exchange(id, req, res, this);
    const rawBody = Buffer.concat(await req.toArray());
    const { body, parseError } = parseJson(rawBody);
    const path = new URL(req.url, 'http://mock').pathname;
    this.requests.push({ id, method: req.method, path, headers: req.headers, body, rawBody, at: performance.now() });
    this.record('request', id);

    const behaviour = this.behaviourFor(body);
    if (behaviour.hang) return;
    if (!(await exchange.wait(behaviour.firstByteDelayMs))) return;
    if (behaviour.requireApiKey && req.headers.authorization !== `Bearer ${behaviour.requireApiKey}`) {
      return exchange.sendJson(401, errorBody(401, 'Incorrect API key provided', 'invalid_api_key'));
    }

    const key = `${req.method} ${path}`;
    if (key === 'GET /v1/models') return exchange.sendJson(200, modelList(this.models));
    const route = kRoutes[key];
    if (!route) return exchange.sendJson(404, errorBody(404, `no route ${key}`, 'not_found'));
    if (parseError) return exchange.sendJson(400, errorBody(400, parseError, 'invalid_json'));
    if (body?.[route.needs] === undefined) {
      return exchange.sendJson(400, errorBody(400, `missing ${route.needs}`, 'missing_required_parameter'));
    }
    if (behaviour.status) {
      const headers = behaviour.retryAfter === undefined ? {} : { 'retry-after': String(behaviour.retryAfter) };
      return exchange.sendJson(behaviour.status, errorBody(behaviour.status, behaviour.errorMessage, behaviour.errorCode), headers);
    }
    if (behaviour.dropAfterChunks !== undefined && !body.stream) return exchange.drop();

    const responseId = `${route.idPrefix}${id}`;
    if (body.stream) return exchange.streamEvents(route.chunks(responseId, body, behaviour), behaviour);
    return exchange.sendJson(200, route.full(responseId, body, behaviour));
  }
}

function parseJson(raw) {
  if (raw.length === 0) return { body: null, parseError: null };
  try {
    return { body: JSON.parse(raw.toString('utf8')), parseError: null };
  } catch (err) {
    return { body: null, parseError: `invalid JSON: ${err.message}` };
  }
}

// options: { behaviour, models, tls: { cert, key } (PEM strings or Buffers), host, port }
export async function startMockUpstream(options = {}) {
  const mock = new MockUpstream(options);
  const onRequest = (req, res) => {
    mock.handle(req, res).catch((err) => {
      console.error('mock upstream: handler failed', err);
      res.destroy();
    });
  };
  const server = options.tls ? https.createServer(options.tls, onRequest) : http.createServer(onRequest);
  server.on('connection', () => mock.record('connection', null));
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');

  const { port } = server.address();
  const url = `${options.tls ? 'https' : 'http'}://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    port,
    requests: mock.requests,
    events: mock.events,
    setBehaviour: (b) => mock.setBehaviour(b),
    releaseHeld: () => mock.releaseHeld(),
    waitForEvent: (predicate, timeoutMs) => mock.waitForEvent(predicate, timeoutMs),
    waitForRequests: (count, timeoutMs) => mock.waitForRequests(count, timeoutMs),
    waitForHeld: (count, timeoutMs) => mock.waitForHeld(count, timeoutMs),
    // Requests to the generation endpoints, i.e. what dsgw forwarded.
    generations: () => mock.requests.filter((r) => r.method === 'POST'),
    async close() {
      mock.releaseHeld();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      behaviour: { type: 'string', default: '{}' },
    },
  });
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const tls = values['tls-cert']
    ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) }
    : undefined;
  const mock = await startMockUpstream({
    port: Number(values.port), host: values.host, tls, behaviour: JSON.parse(values.behaviour),
  });
  process.stdout.write(`${JSON.stringify({ port: mock.port, url: mock.url })}\n`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => mock.close().then(() => process.exit(0)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
