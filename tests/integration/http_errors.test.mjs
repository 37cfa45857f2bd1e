// Requests the openai client would never send, and the headers and error bodies dsgw answers with.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { chatBody, useGateway } from '../support/gateway.mjs';
import { openaiBackend, serverConfig, sha256Hex } from '../support/harness.mjs';
import { request } from '../support/http_client.mjs';

const kClientKey = 'sk-http-errors-test-key';
const kMaxBodyBytes = 4096;
const kAuth = { authorization: `Bearer ${kClientKey}` };

// Asserts an OpenAI-shaped error body with this status, type (when given), code and param.
function assertOpenAiError(response, { status, code, type, param }) {
  assert.equal(response.status, status, `status ${response.status}, body ${response.text}`);
  assert.match(response.headers['content-type'] ?? '', /^application\/json/);
  const { error } = response.json ?? {};
  assert.ok(error, `no error object in ${response.text}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.ok('type' in error && 'param' in error && 'code' in error, `incomplete error ${response.text}`);
  assert.equal(error.code, code);
  if (type !== undefined) assert.equal(error.type, type);
  if (param !== undefined) assert.equal(error.param, param);
}

describe('dsgw HTTP errors', () => {
  const gateway = useGateway({
    config: ({ mock }) => ({
      server: serverConfig({ max_body_bytes: kMaxBodyBytes }),
      api_key: [{ sha256: sha256Hex(kClientKey), tenant: 'team-a' }],
      backend: [openaiBackend(mock.baseUrl)],
    }),
  });
  const post = (body, { path = '/v1/chat/completions', headers = kAuth } = {}) =>
    request(`${gateway.dsgw.url}${path}`, { method: 'POST', body, headers });
  const get = (path, headers = kAuth) => request(`${gateway.dsgw.url}${path}`, { headers });

  describe('400 for bodies that are not a valid request', () => {
    it('malformed JSON', async () => {
      assertOpenAiError(await post('{"model": "m1", "messages": ['), { status: 400, code: 'invalid_json', type: 'invalid_request_error' });
    });

    it('a JSON value that is not an object', async () => {
      const response = await post('["m1"]');
      assert.equal(response.status, 400);
      assert.ok(['invalid_json', 'invalid_type'].includes(response.json?.error?.code), response.text);
    });

    for (const [field, value] of [['messages', 'hello'], ['model', 42], ['stream', 'yes']]) {
      it(`${field} = ${JSON.stringify(value)}`, async () => {
        assertOpenAiError(await post(chatBody({ [field]: value })), { status: 400, code: 'invalid_type', param: field });
      });
    }

    it('missing messages', async () => {
      const { messages, ...body } = chatBody();
      assert.ok(messages);
      assertOpenAiError(await post(body), { status: 400, code: 'missing_required_parameter', param: 'messages' });
    });

    it('missing prompt on /v1/completions', async () => {
      assertOpenAiError(await post({ model: 'm1' }, { path: '/v1/completions' }),
        { status: 400, code: 'missing_required_parameter', param: 'prompt' });
    });

    it('invalid UTF-8 inside a string', async () => {
      const [before, after] = JSON.stringify(chatBody({ messages: [{ role: 'user', content: '@@' }] })).split('@@');
      const body = Buffer.concat([Buffer.from(before), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(after)]);
      assertOpenAiError(await post(body), { status: 400, code: 'invalid_utf8' });
    });

    it('never reaches the upstream', async () => {
      const before = gateway.mock.generations().length;
      await post('{not json');
      await post(chatBody({ messages: 'hello' }));
      assert.equal(gateway.mock.generations().length, before);
    });
  });

  describe('401 when keys are configured', () => {
    for (const [label, headers] of [
      ['no Authorization header', {}],
      ['an unknown key', { authorization: 'Bearer sk-unknown' }],
      ['a key without the Bearer scheme', { authorization: kClientKey }],
      ['an empty bearer token', { authorization: 'Bearer ' }],
    ]) {
      it(label, async () => {
        assertOpenAiError(await post(chatBody(), { headers }), { status: 401, code: 'invalid_api_key', type: 'authentication_error' });
      });
    }

    it('the right key passes', async () => {
      const response = await post(chatBody());
      assert.equal(response.status, 200, response.text);
    });
  });

  describe('404 and 413', () => {
    it('404 not_found for an unknown path', async () => {
      assertOpenAiError(await get('/v1/no-such-endpoint'), { status: 404, code: 'not_found' });
      assertOpenAiError(await post(chatBody(), { path: '/v2/chat/completions' }), { status: 404, code: 'not_found' });
    });

    it('405 method_not_allowed for a known path with another method, naming the allowed one', async () => {
      const response = await get('/v1/chat/completions');
      assertOpenAiError(response, { status: 405, code: 'method_not_allowed' });
      assert.equal(response.headers.allow, 'POST');
    });

    it('404 model_not_found for an unknown model', async () => {
      assertOpenAiError(await post(chatBody({ model: 'gpt-nonexistent' })), { status: 404, code: 'model_not_found' });
    });

    it('413 payload_too_large for a body over max_body_bytes', async () => {
      const body = chatBody({ messages: [{ role: 'user', content: 'x'.repeat(kMaxBodyBytes * 2) }] });
      assertOpenAiError(await post(body), { status: 413, code: 'payload_too_large' });
    });

    it('a body just under max_body_bytes is accepted', async () => {
      const padding = kMaxBodyBytes - JSON.stringify(chatBody({ messages: [{ role: 'user', content: '' }] })).length - 16;
      const response = await post(chatBody({ messages: [{ role: 'user', content: 'x'.repeat(padding) }] }));
      assert.equal(response.status, 200, response.text);
    });
  });

  describe('health', () => {
    it('/healthz and /readyz answer 200', async () => {
      assert.equal((await get('/healthz')).status, 200);
      assert.equal((await get('/readyz')).status, 200);
    });

    it('HEAD /healthz answers 200 with the head alone, as probes expect', async () => {
      const response = await request(`${gateway.dsgw.url}/healthz`, { method: 'HEAD' });
      assert.equal(response.status, 200);
      assert.equal(response.text, '');
      assert.ok(Number(response.headers['content-length']) > 0, 'Content-Length as for GET');
    });
  });

  describe('headers on every response', () => {
    const cases = [
      ['200 chat', () => post(chatBody()), 'mock'],
      ['200 models', () => get('/v1/models'), null],
      ['200 healthz', () => get('/healthz'), null],
      ['400 invalid json', () => post('{'), 'none'],
      ['401 no key', () => post(chatBody(), { headers: {} }), 'none'],
      ['404 unknown path', () => get('/nope'), 'none'],
      ['405 wrong method', () => get('/v1/completions'), 'none'],
      ['404 unknown model', () => post(chatBody({ model: 'nope' })), 'none'],
      ['413 too large', () => post('x'.repeat(kMaxBodyBytes + 1)), 'none'],
      ['502 upstream error', () => post(chatBody({ mock: { status: 503 } })), 'mock'],
    ];
    for (const [label, send, backend] of cases) {
      it(`${label}: X-Request-Id${backend ? ` and X-Dsgw-Backend: ${backend}` : ''}`, async () => {
        const response = await send();
        assert.match(response.headers['x-request-id'] ?? '', /^\S{8,}$/, 'missing or short X-Request-Id');
        assert.ok('x-dsgw-backend' in response.headers, 'missing X-Dsgw-Backend');
        if (backend) assert.equal(response.headers['x-dsgw-backend'], backend);
      });
    }

    it('a fresh X-Request-Id per request', async () => {
      const ids = new Set();
      for (let i = 0; i < 5; i++) ids.add((await get('/healthz')).headers['x-request-id']);
      assert.equal(ids.size, 5);
    });
  });
});

describe('dsgw readiness without a usable backend', () => {
  const gateway = useGateway({
    config: ({ mock }) => ({
      server: serverConfig(),
      backend: [openaiBackend(mock.baseUrl, { api_key_env: 'DSGW_TEST_KEY_THAT_IS_NOT_SET' })],
    }),
  });

  it('/readyz answers 503 while /healthz stays 200', async () => {
    assert.equal((await request(`${gateway.dsgw.url}/readyz`)).status, 503);
    assert.equal((await request(`${gateway.dsgw.url}/healthz`)).status, 200);
  });

  it('requests for its models get 503 backend_unavailable', async () => {
    const response = await request(`${gateway.dsgw.url}/v1/chat/completions`, { method: 'POST', body: chatBody() });
    assertOpenAiError(response, { status: 503, code: 'backend_unavailable' });
    assert.ok(['mock', 'none'].includes(response.headers['x-dsgw-backend']), response.headers['x-dsgw-backend']);
  });
});
