// Decode attention on the CPU in fp32, over a cache of fp32 or bf16 keys and
// values: one new token per sequence, each over its own KV-cache slot. One loop per (sequence, kv head)
// instead of ~10 libtorch ops per sequence per layer: q·k scores for the kv head's group of query heads, a
// max-subtracted softmax, the weighted sum of the values, all accumulated in fp32; the pairs are spread over
// the intra-op threads. Internal to the engine.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <span>

namespace dsgw::local {

// Whether decode_attention handles these tensors (CPU, fp32 queries, an fp32
// or bf16 contiguous cache).
bool decode_attention_supported(const at::Tensor& q, const at::Tensor& keys);

// q: [n, heads, head_dim]; k, v: [n, kv_heads, head_dim], the new tokens'
// keys and values; keys, values: one layer's cache, [slots, kv_heads,
// max_tokens, head_dim]. Row b is at position positions[b] of slot slots[b]
// (slots distinct): its key and value are written there, then its query
// attends to positions 0..positions[b] of that slot. Query head h uses kv
// head h / (heads / kv_heads). Writes out: [n, heads * head_dim].
void decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, at::Tensor& keys,
                      at::Tensor& values, std::span<const int> slots, std::span<const std::int64_t> positions,
                      at::Tensor& out);

}  // namespace dsgw::local
