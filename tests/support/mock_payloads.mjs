// Response bodies the mock upstream sends, shaped like DeepSeek's OpenAI-compatible API
// (reasoning_content beside content, prompt cache counters in usage). Pure functions of the
// request body and the behaviour, so tests can compute the exact text they should receive.

export function joinedReasoning(behaviour) {
  return behaviour.reasoning.join('');
}

export function joinedContent(behaviour) {
  return behaviour.content.join('');
}

// The tool calls the mock answers with: the behaviour's own, or else one call of the first tool
// the request offered, so that a test sending `tools` sees them come back without scripting it.
export function toolCallsFor(body, behaviour) {
  if (behaviour.toolCalls) return behaviour.toolCalls;
  const offered = Array.isArray(body.tools) ? body.tools : [];
  if (offered.length === 0 || body.tool_choice === 'none') return null;
  return [{
    id: 'call_mock_0',
    type: 'function',
    function: { name: offered[0].function?.name ?? 'unknown', arguments: behaviour.toolArguments },
  }];
}

function usageFor(behaviour, completionTokens) {
  const prompt = behaviour.promptTokens;
  const cacheHit = Math.min(behaviour.promptCacheHitTokens, prompt);
  return {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
    prompt_cache_hit_tokens: cacheHit,
    prompt_cache_miss_tokens: prompt - cacheHit,
    completion_tokens_details: { reasoning_tokens: behaviour.reasoning.length },
  };
}

function completionTokens(behaviour, toolCalls) {
  return behaviour.reasoning.length + (toolCalls ? 1 : behaviour.content.length);
}

function logprobsFor(pieces) {
  return { content: pieces.map((token) => ({ token, logprob: -0.25, bytes: [...Buffer.from(token)], top_logprobs: [] })) };
}

function envelope(kind, id, body) {
  return { id, object: kind, created: Math.floor(Date.now() / 1000), model: body.model, system_fingerprint: 'fp_mock' };
}

export function chatCompletion(id, body, behaviour) {
  const toolCalls = toolCallsFor(body, behaviour);
  const message = {
    role: 'assistant',
    content: toolCalls ? null : joinedContent(behaviour),
    reasoning_content: joinedReasoning(behaviour),
  };
  if (toolCalls) message.tool_calls = toolCalls;
  return {
    ...envelope('chat.completion', id, body),
    choices: [{
      index: 0,
      message,
      logprobs: body.logprobs && !toolCalls ? logprobsFor(behaviour.content) : null,
      finish_reason: toolCalls ? 'tool_calls' : 'stop',
    }],
    usage: usageFor(behaviour, completionTokens(behaviour, toolCalls)),
  };
}

// The JSON payloads of a chat stream, in order, without the final [DONE].
export function chatCompletionChunks(id, body, behaviour) {
  const toolCalls = toolCallsFor(body, behaviour);
  const chunk = (delta, extra = {}) => ({
    ...envelope('chat.completion.chunk', id, body),
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null, ...extra }],
  });
  const chunks = [chunk({ role: 'assistant', content: null, reasoning_content: '' })];
  for (const piece of behaviour.reasoning) chunks.push(chunk({ reasoning_content: piece }));
  if (toolCalls) {
    toolCalls.forEach((call, index) => {
      chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: call.type, function: { name: call.function.name, arguments: '' } }] }));
      chunks.push(chunk({ tool_calls: [{ index, function: { arguments: call.function.arguments } }] }));
    });
  } else {
    for (const piece of behaviour.content) {
      chunks.push(chunk({ content: piece }, body.logprobs ? { logprobs: logprobsFor([piece]) } : {}));
    }
  }
  chunks.push(chunk({}, { finish_reason: toolCalls ? 'tool_calls' : 'stop' }));
  if (body.stream_options?.include_usage) {
    chunks.push({ ...envelope('chat.completion.chunk', id, body), choices: [], usage: usageFor(behaviour, completionTokens(behaviour, toolCalls)) });
  }
  return chunks;
}

export function textCompletion(id, body, behaviour) {
  return {
    ...envelope('text_completion', id, body),
    choices: [{ index: 0, text: joinedContent(behaviour), logprobs: null, finish_reason: 'stop' }],
    usage: usageFor({ ...behaviour, reasoning: [] }, behaviour.content.length),
  };
}

export function textCompletionChunks(id, body, behaviour) {
  const chunk = (text, finishReason) => ({
    ...envelope('text_completion', id, body),
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
  });
  const chunks = behaviour.content.map((piece) => chunk(piece, null));
  chunks.push(chunk('', 'stop'));
  if (body.stream_options?.include_usage) {
    chunks.push({ ...envelope('text_completion', id, body), choices: [], usage: usageFor({ ...behaviour, reasoning: [] }, behaviour.content.length) });
  }
  return chunks;
}

const kErrorTypes = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

export function errorBody(status, message, code = null) {
  return { error: { message, type: kErrorTypes[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), param: null, code } };
}

export function modelList(models) {
  return { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'mock' })) };
}
