// The usual test bench: a mock upstream, a dsgw in front of it, started before a suite's tests
// and torn down after them, plus the request bodies the suites send.

import { after, before } from 'node:test';

import OpenAI from 'openai';

import { openaiBackend, serverConfig, startDsgw } from './harness.mjs';
import { openRequest } from './http_client.mjs';
import { kDefaultBehaviour, startMockUpstream } from './mock_upstream.mjs';

export const kExpectedContent = kDefaultBehaviour.content.join('');
export const kExpectedReasoning = kDefaultBehaviour.reasoning.join('');

export function chatBody(extra = {}) {
  return { model: 'm1', messages: [{ role: 'user', content: 'Say hello.' }], ...extra };
}

function defaultConfig({ mock }) {
  return { server: serverConfig(), backend: [openaiBackend(mock.baseUrl)] };
}

// Call inside describe(): returns an object whose `mock` and `dsgw` are set once the suite's
// before() hook ran. options.config(gateway) builds the dsgw config once the mock is up (it may
// start more upstreams, keep them on `gateway` and hand their teardown to gateway.defer());
// options.mock goes to startMockUpstream; options.env to the daemon's environment;
// options.startTimeoutMs bounds the daemon's start (local models load first).
export function useGateway({ mock = {}, config = defaultConfig, env = {}, startTimeoutMs } = {}) {
  const cleanups = [];
  const gateway = { defer: (cleanup) => cleanups.push(cleanup) };
  before(async () => {
    gateway.mock = await startMockUpstream(mock);
    gateway.dsgw = await startDsgw(await config(gateway), { env, startTimeoutMs });
  });
  after(async () => {
    await gateway.dsgw?.stop();
    await gateway.mock?.close();
    for (const cleanup of cleanups) await cleanup();
  });
  return gateway;
}

export function openaiClient(dsgw, { apiKey = 'unused', ...options } = {}) {
  // No retries: a test must see the first answer, not the SDK's third attempt.
  return new OpenAI({ baseURL: dsgw.baseUrl, apiKey, maxRetries: 0, timeout: 20000, ...options });
}

// POSTs a JSON body to dsgw and returns the response as it starts (for streams).
export function postToDsgw(dsgw, path, body, { headers = {}, ...options } = {}) {
  return openRequest(`${dsgw.url}${path}`, { method: 'POST', body, headers, ...options });
}
