// Server-sent event streams through dsgw, watched on the wire: timing, breakage, hang-ups.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';

import OpenAI from 'openai';

import {
  chatBody, kExpectedContent, kExpectedReasoning, openaiClient, useGateway,
} from '../support/gateway.mjs';
import { openaiBackend, serverConfig } from '../support/harness.mjs';
import { collectSse, readBody, sendRequest, sseEvents } from '../support/http_client.mjs';

const kFirstByteTimeoutMs = 1000;
const kChunkDelayMs = 300;

const deltasOf = (events) => events.flatMap((e) => e.json?.choices?.map((c) => c.delta ?? {}) ?? []);
const joined = (deltas, field) => deltas.map((d) => d[field] ?? '').join('');

describe('dsgw streaming', () => {
  const gateway = useGateway({
    config: ({ mock }) => ({
      server: serverConfig(),
      backend: [
        openaiBackend(mock.baseUrl, { first_byte_timeout_ms: kFirstByteTimeoutMs }),
        // Waits for the first byte long enough that only a hang-up can end its requests early.
        openaiBackend(mock.baseUrl, { name: 'patient', models: ['patient-model'], first_byte_timeout_ms: 60000 }),
      ],
    }),
  });

  // Sends a stream request whose first message carries a fresh tag, so the test can find the
  // upstream request it caused among the mock's records. Returns sendRequest()'s
  // { request, response } and upstreamRequestId(), the mock's id once the request got there.
  function sendStream(mockBehaviour = {}, model = 'm1') {
    const tag = `stream-${randomUUID()}`;
    const body = chatBody({ model, stream: true, messages: [{ role: 'user', content: tag }], mock: mockBehaviour });
    const sent = sendRequest(`${gateway.dsgw.url}/v1/chat/completions`, { method: 'POST', body });
    const upstreamRequestId = () => gateway.mock.requests.find((r) => r.body?.messages?.[0]?.content === tag)?.id;
    return { ...sent, upstreamRequestId };
  }

  async function startStream(mockBehaviour) {
    const { response, upstreamRequestId } = sendStream(mockBehaviour);
    return { res: await response, upstreamRequestId };
  }

  // Hangs up `connection` (a request or a response) and checks the mock saw dsgw give up on
  // the upstream request within a second.
  async function assertUpstreamAbortedSoonAfterHangUp(connection, upstreamRequestId) {
    const hungUpAt = performance.now();
    connection.destroy();
    const closed = await gateway.mock.waitForEvent(
      (e) => e.type === 'client_closed' && e.requestId === upstreamRequestId(), 5000,
    ).catch(() => assert.fail('the upstream request was still open 5 s after the client hung up'));
    const lagMs = closed.at - hungUpAt;
    assert.ok(lagMs < 1000, `upstream request aborted ${Math.round(lagMs)} ms after the client left`);
  }

  it('sends well-formed SSE: data lines, blank-line separated, ending in [DONE]', async () => {
    const { res } = await startStream();
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'], /^text\/event-stream/);
    const text = await readBody(res);
    assert.match(text, /^(data: [^\n]+\n\n)+$/);
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.equal(text.match(/\[DONE\]/g).length, 1);
  });

  it('forwards each chunk as it arrives instead of buffering the answer', async () => {
    const { res } = await startStream({ chunkDelayMs: kChunkDelayMs });
    const events = await collectSse(res);
    const contentEvents = events.filter((e) => e.json?.choices?.[0]?.delta?.content);
    assert.equal(joined(deltasOf(contentEvents), 'content'), kExpectedContent);
    const streamMs = events.at(-1).at - events[0].at;
    const contentSpreadMs = contentEvents.at(-1).at - contentEvents[0].at;
    // The mock spaces its ten events 300 ms apart: forwarded as they come, they span 2.7 s.
    assert.ok(streamMs >= 0.8 * kChunkDelayMs * (events.length - 1), `the stream arrived within ${Math.round(streamMs)} ms`);
    assert.ok(contentSpreadMs >= 0.8 * kChunkDelayMs * (contentEvents.length - 1),
      `content chunks arrived within ${Math.round(contentSpreadMs)} ms of each other: buffered`);
  });

  it('lets a stream run past first_byte_timeout_ms once it has started', async () => {
    // Five gaps of 0.6 s: the stream lasts three times first_byte_timeout_ms.
    const content = ['slow', ' but', ' steady'];
    const { res } = await startStream({ reasoning: [], content, chunkDelayMs: kFirstByteTimeoutMs * 0.6 });
    const events = await collectSse(res);
    assert.equal(events.at(-1).data, '[DONE]');
    assert.equal(joined(deltasOf(events), 'content'), content.join(''));
  });

  it('ends a stream the upstream broke with an error event and no [DONE]', async () => {
    // Chunks 0-3: the role chunk and the three reasoning pieces; the drop comes before any content.
    const { res } = await startStream({ dropAfterChunks: 4 });
    assert.equal(res.statusCode, 200);
    const events = await collectSse(res);
    assert.ok(!events.some((e) => e.data === '[DONE]'), 'a broken stream must not end with [DONE]');
    const { error } = events.at(-1).json ?? {};
    assert.ok(error, `last event is not an error: ${events.at(-1).data}`);
    assert.equal(typeof error.message, 'string');
    assert.ok('type' in error && 'code' in error, `error event not OpenAI-shaped: ${events.at(-1).data}`);
    const deltas = deltasOf(events.slice(0, -1));
    assert.equal(joined(deltas, 'reasoning_content'), kExpectedReasoning, 'chunks before the break were lost');
    assert.equal(joined(deltas, 'content'), '');
  });

  it('makes the openai client throw when the upstream breaks the stream', async () => {
    const stream = await openaiClient(gateway.dsgw).chat.completions.create(
      chatBody({ stream: true, mock: { dropAfterChunks: 5 } }));
    const received = [];
    await assert.rejects(async () => {
      for await (const chunk of stream) received.push(chunk);
    }, OpenAI.APIError);
    assert.ok(received.length >= 4, `only ${received.length} chunks before the error`);
  });

  it('aborts the upstream request within 1 s when the client hangs up while chunks flow', async () => {
    const { res, upstreamRequestId } = await startStream({ content: Array(100).fill('tok '), chunkDelayMs: 100 });
    await sseEvents(res).next();
    await assertUpstreamAbortedSoonAfterHangUp(res, upstreamRequestId);
  });

  it('aborts the upstream request within 1 s when the client hangs up while the upstream is silent', async () => {
    const { res, upstreamRequestId } = await startStream({ holdAfterChunks: 2 });
    await sseEvents(res).next();
    await gateway.mock.waitForEvent((e) => e.type === 'held' && e.requestId === upstreamRequestId());
    await assertUpstreamAbortedSoonAfterHangUp(res, upstreamRequestId);
  });

  it('aborts the upstream request within 1 s when the client hangs up before the first byte', async () => {
    const { request, response, upstreamRequestId } = sendStream({ hang: true }, 'patient-model');
    response.catch(() => {}); // the hang-up rejects it
    await gateway.mock.waitForEvent((e) => e.type === 'request' && e.requestId === upstreamRequestId());
    await assertUpstreamAbortedSoonAfterHangUp(request, upstreamRequestId);
  });

  it('answers 504 as JSON, not SSE, when the upstream sends nothing within first_byte_timeout_ms', async () => {
    const start = performance.now();
    const { res, upstreamRequestId } = await startStream({ hang: true });
    const elapsedMs = performance.now() - start;
    assert.equal(res.statusCode, 504);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(JSON.parse(await readBody(res)).error.code, 'upstream_timeout');
    assert.ok(elapsedMs >= 0.9 * kFirstByteTimeoutMs, `gave up after ${Math.round(elapsedMs)} ms`);
    assert.ok(elapsedMs < 3 * kFirstByteTimeoutMs, `gave up only after ${Math.round(elapsedMs)} ms`);
    await gateway.mock.waitForEvent((e) => e.type === 'client_closed' && e.requestId === upstreamRequestId(), 2000);
  });

  it('answers 502 as JSON, not SSE, when the upstream fails before the stream starts', async () => {
    const { res } = await startStream({ status: 500 });
    assert.equal(res.statusCode, 502);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(JSON.parse(await readBody(res)).error.code, 'upstream_error');
  });

  it('keeps serving after all of the above', async () => {
    const { res } = await startStream();
    const events = await collectSse(res);
    assert.equal(joined(deltasOf(events), 'content'), kExpectedContent);
  });
});
