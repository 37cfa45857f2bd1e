// Raw HTTP for what the openai client cannot send or show: arbitrary bytes, exact headers,
// the arrival time of each server-sent event, and hanging up mid-stream.

import http from 'node:http';
import { performance } from 'node:perf_hooks';

// Starts a request on its own connection (agent: false, so tests never share keep-alive state).
// Returns { request, response }: the ClientRequest (to hang up early) and a promise of the
// response as soon as its headers arrive. body: string | Buffer | plain object (sent as JSON).
export function sendRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 30000 } = {}) {
  const payload = body === undefined || typeof body === 'string' || Buffer.isBuffer(body)
    ? body
    : JSON.stringify(body);
  const allHeaders = { ...headers };
  if (payload !== undefined) {
    allHeaders['content-type'] ??= 'application/json';
    allHeaders['content-length'] = Buffer.byteLength(payload);
  }
  const request = http.request(url, { method, headers: allHeaders, agent: false, timeout: timeoutMs });
  const response = new Promise((resolve, reject) => {
    request.on('response', resolve);
    request.on('error', reject);
    request.on('timeout', () => request.destroy(new Error(`no response from ${url} within ${timeoutMs} ms`)));
  });
  request.end(payload);
  return { request, response };
}

// The response of sendRequest(), once its headers arrived.
export function openRequest(url, options) {
  return sendRequest(url, options).response;
}

export async function readBody(res) {
  const chunks = [];
  for await (const chunk of res) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// Sends a request and reads the whole answer: { status, headers, text, json }.
export async function request(url, options) {
  const res = await openRequest(url, options);
  const text = await readBody(res);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

// Yields each server-sent event of a response as { data, json, at }: `json` is the parsed data
// (undefined for "[DONE]"), `at` its arrival time (performance.now()).
export async function* sseEvents(res) {
  let buffer = '';
  res.setEncoding('utf8');
  for await (const chunk of res) {
    const at = performance.now();
    buffer += chunk.replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data === '') continue;
      yield { data, json: data === '[DONE]' ? undefined : JSON.parse(data), at };
    }
  }
  if (buffer.trim() !== '') throw new Error(`stream ended inside an event: ${JSON.stringify(buffer)}`);
}

export async function collectSse(res) {
  const events = [];
  for await (const event of sseEvents(res)) events.push(event);
  return events;
}
