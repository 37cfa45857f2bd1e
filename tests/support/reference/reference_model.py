"""A plain PyTorch reference for Qwen2ForCausalLM / LlamaForCausalLM.

Written from the math of Hugging Face's modeling_qwen2.py / modeling_llama.py
(eager attention), not from dsgw's C++: RMSNorm, rotary embeddings with
rotate_half (plain, or rescaled as rope_type "llama3"), grouped-query
attention via repeat_kv, q/k/v bias for Qwen2, SwiGLU MLP, untied lm_head.
No KV cache: every call runs the whole sequence, which is what makes it a
reference. Computes in float64 by default.

It reads safetensors itself (8-byte header length, JSON header, raw data),
resolving shards through model.safetensors.index.json.
"""
import json
import math
import os
import struct

import numpy as np
import torch

_NP_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}


def read_safetensors(path):
    """{name: float32 torch tensor} of one file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=_NP_DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]))
    return out


def read_model_tensors(model_dir):
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    tensors = {}
    for file_name in sorted(set(weight_map.values())):
        for name, t in read_safetensors(os.path.join(model_dir, file_name)).items():
            if weight_map.get(name) == file_name:
                tensors[name] = t
    return tensors


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    # [batch, kv_heads, seq, head_dim] -> [batch, kv_heads * n_rep, seq, head_dim]
    b, kv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)


class ReferenceModel:
    def __init__(self, model_dir, dtype=torch.float64, kv_dtype=None):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        c = self.cfg
        self.arch = c["architectures"][0]
        assert self.arch in ("Qwen2ForCausalLM", "LlamaForCausalLM"), self.arch
        self.dtype = dtype
        # A KV cache in a narrower dtype (bf16): keys and values rounded to it
        # once computed, as an engine that caches them so sees them.
        self.kv_dtype = kv_dtype
        self.hidden = c["hidden_size"]
        self.n_layers = c["num_hidden_layers"]
        self.n_heads = c["num_attention_heads"]
        self.n_kv = c.get("num_key_value_heads") or self.n_heads
        self.head_dim = c.get("head_dim") or self.hidden // self.n_heads
        self.eps = c["rms_norm_eps"]
        self.bias = self.arch == "Qwen2ForCausalLM" or c.get("attention_bias", False)
        self.w = {k: v.to(dtype) for k, v in read_model_tensors(model_dir).items()}
        if c.get("tie_word_embeddings", False):
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.inv_freq = self._inv_freq()

    def _inv_freq(self):
        c = self.cfg
        base, dim = c.get("rope_theta", 10000.0), self.head_dim
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
        rs = c.get("rope_scaling")
        if rs and rs.get("rope_type", rs.get("type")) == "llama3":
            factor = rs["factor"]
            low_freq_factor = rs["low_freq_factor"]
            high_freq_factor = rs["high_freq_factor"]
            old_context_len = rs["original_max_position_embeddings"]
            low_freq_wavelen = old_context_len / low_freq_factor
            high_freq_wavelen = old_context_len / high_freq_factor
            wavelen = 2 * math.pi / inv_freq
            inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
            smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
            is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
            inv_freq = torch.where(is_medium, smoothed, inv_freq_llama)
        elif rs:
            raise ValueError(f"unsupported rope_scaling {rs}")
        return inv_freq

    def rms_norm(self, x, weight):
        variance = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(variance + self.eps))

    def linear(self, x, name, bias=False):
        y = x @ self.w[name + ".weight"].T
        if bias:
            y = y + self.w[name + ".bias"]
        return y

    @torch.no_grad()
    def forward(self, tokens):
        """Logits [len(tokens), vocab] for every position of one sequence."""
        ids = torch.tensor(tokens, dtype=torch.long)
        T = len(tokens)
        x = self.w["model.embed_tokens.weight"][ids][None]  # [1, T, hidden]
        pos = torch.arange(T, dtype=torch.float64)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(self.dtype)[None, None], emb.sin().to(self.dtype)[None, None]
        mask = torch.full((T, T), float("-inf"), dtype=self.dtype).triu(1)
        for i in range(self.n_layers):
            p = f"model.layers.{i}."
            residual = x
            h = self.rms_norm(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(h, p + "self_attn.q_proj", self.bias)
            k = self.linear(h, p + "self_attn.k_proj", self.bias)
            v = self.linear(h, p + "self_attn.v_proj", self.bias)
            q = q.view(1, T, self.n_heads, self.head_dim).transpose(1, 2)
            k = k.view(1, T, self.n_kv, self.head_dim).transpose(1, 2)
            v = v.view(1, T, self.n_kv, self.head_dim).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if self.kv_dtype is not None:  # rounded from fp32, as the engine computes them
                k = k.to(torch.float32).to(self.kv_dtype).to(self.dtype)
                v = v.to(torch.float32).to(self.kv_dtype).to(self.dtype)
            k = repeat_kv(k, self.n_heads // self.n_kv)
            v = repeat_kv(v, self.n_heads // self.n_kv)
            scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim) + mask
            probs = torch.softmax(scores, dim=-1)
            attn = (probs @ v).transpose(1, 2).reshape(1, T, self.n_heads * self.head_dim)
            x = residual + self.linear(attn, p + "self_attn.o_proj")
            residual = x
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            gate = torch.nn.functional.silu(self.linear(h, p + "mlp.gate_proj"))
            x = residual + self.linear(gate * self.linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        x = self.rms_norm(x, self.w["model.norm.weight"])
        return (x @ self.w["lm_head.weight"].T)[0]

    def greedy(self, prompt, steps):
        tokens = list(prompt)
        out = []
        for _ in range(steps):
            nxt = int(torch.argmax(self.forward(tokens)[-1]))
            out.append(nxt)
            tokens.append(nxt)
        return out
