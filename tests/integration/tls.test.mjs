// https upstreams: dsgw verifies their certificates against ca_file or the system store.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { chatBody, kExpectedContent, postToDsgw, useGateway } from '../support/gateway.mjs';
import { openaiBackend, serverConfig } from '../support/harness.mjs';
import { collectSse, request } from '../support/http_client.mjs';
import { startMockUpstream } from '../support/mock_upstream.mjs';
import { createTestPki } from '../support/tls.mjs';

describe('dsgw with https upstreams', () => {
  const pki = createTestPki();
  const tls = { cert: pki.cert, key: pki.key };
  const gateway = useGateway({
    mock: { tls },
    config: async (gw) => {
      // Same certificate, served from an address it does not name.
      gw.misnamedMock = await startMockUpstream({ tls, host: '127.0.0.2' });
      gw.defer(() => gw.misnamedMock.close());
      return {
        server: serverConfig(),
        backend: [
          openaiBackend(gw.mock.baseUrl, { name: 'trusted', models: ['trusted-model'], ca_file: pki.caCertPath }),
          openaiBackend(gw.mock.baseUrl, { name: 'untrusted', models: ['untrusted-model'] }),
          openaiBackend(gw.misnamedMock.baseUrl, { name: 'misnamed', models: ['misnamed-model'], ca_file: pki.caCertPath }),
        ],
      };
    },
  });
  const chat = (model, extra = {}) =>
    request(`${gateway.dsgw.url}/v1/chat/completions`, { method: 'POST', body: chatBody({ model, ...extra }) });

  it('talks to an upstream whose certificate chains to ca_file', async () => {
    assert.match(gateway.mock.baseUrl, /^https:/);
    const response = await chat('trusted-model');
    assert.equal(response.status, 200, response.text);
    assert.equal(response.json.choices[0].message.content, kExpectedContent);
    assert.equal(response.headers['x-dsgw-backend'], 'trusted');
  });

  it('streams from it', async () => {
    const res = await postToDsgw(gateway.dsgw, '/v1/chat/completions', chatBody({ model: 'trusted-model', stream: true }));
    const events = await collectSse(res);
    assert.equal(events.at(-1).data, '[DONE]');
    assert.equal(events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join(''), kExpectedContent);
  });

  it('answers 502 without sending the request when the certificate is not trusted', async () => {
    const before = gateway.mock.generations().length;
    const response = await chat('untrusted-model');
    assert.equal(response.status, 502, response.text);
    assert.equal(response.json?.error?.code, 'upstream_error');
    assert.equal(gateway.mock.generations().length, before, 'the request reached an untrusted upstream');
  });

  it('answers 502 when the certificate does not name the upstream host', async () => {
    const response = await chat('misnamed-model');
    assert.equal(response.status, 502, response.text);
    assert.equal(gateway.misnamedMock.generations().length, 0, 'the request reached a host the certificate does not name');
  });
});
