#!/usr/bin/env python3
"""Write a random model in the Hugging Face layout dsgw's local engine loads.

config.json plus model.safetensors (or shards + model.safetensors.index.json),
for Qwen2ForCausalLM (q/k/v bias) or LlamaForCausalLM (optionally with
llama3 rope scaling). The safetensors format is written by hand: 8-byte
little-endian header length, JSON header (dtype, shape, data_offsets), raw
little-endian data. Needs numpy only. Weights are random but scaled so that
logits are O(1) (a tiny model with HF's 0.02 init would give near-uniform
logits and fragile greedy ties).

  make_tiny_model.py --out DIR [--arch qwen2|llama] [--dtype fp32|bf16|fp16]
                     [--hidden 64 --layers 2 --heads 4 --kv-heads 2 ...]
                     [--shards N] [--sha384sums] [--tokenizer-dir DIR]
  make_tiny_model.py --out DIR --shape r1-distill-qwen-1.5b --dtype bf16

No tokenizer is written; --tokenizer-dir copies tokenizer.json and
tokenizer_config.json from a directory that has them.
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import sys

import numpy as np

# The real shapes (DeepSeek-R1 distills), for benchmarks.
SHAPES = {
    "r1-distill-qwen-1.5b": dict(arch="qwen2", hidden=1536, layers=28, heads=12, kv_heads=2, head_dim=None,
                                 intermediate=8960, vocab=151936, max_pos=131072, rope_theta=10000.0,
                                 rms_norm_eps=1e-6, bos=151643, eos=151643),
    "r1-distill-qwen-7b": dict(arch="qwen2", hidden=3584, layers=28, heads=28, kv_heads=4, head_dim=None,
                               intermediate=18944, vocab=152064, max_pos=131072, rope_theta=10000.0,
                               rms_norm_eps=1e-6, bos=151643, eos=151643),
    "r1-distill-llama-8b": dict(arch="llama", hidden=4096, layers=32, heads=32, kv_heads=8, head_dim=None,
                                intermediate=14336, vocab=128256, max_pos=131072, rope_theta=500000.0,
                                rms_norm_eps=1e-5, bos=128000, eos=128001,
                                rope_scaling=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                                  original_max_position_embeddings=8192)),
}

DTYPES = {"fp32": ("F32", 4, "float32"), "bf16": ("BF16", 2, "bfloat16"), "fp16": ("F16", 2, "float16")}


def make_config(a):
    head_dim = a.head_dim or a.hidden // a.heads
    arch = "Qwen2ForCausalLM" if a.arch == "qwen2" else "LlamaForCausalLM"
    cfg = {
        "architectures": [arch],
        "model_type": a.arch,
        "hidden_size": a.hidden,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "intermediate_size": a.intermediate,
        "vocab_size": a.vocab,
        "max_position_embeddings": a.max_pos,
        "rope_theta": a.rope_theta,
        "rms_norm_eps": a.rms_norm_eps,
        "hidden_act": "silu",
        "tie_word_embeddings": a.tie,
        "torch_dtype": DTYPES[a.dtype][2],
        "bos_token_id": a.bos,
        "eos_token_id": a.eos,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "use_cache": True,
    }
    if a.head_dim:
        cfg["head_dim"] = head_dim
    if a.arch == "qwen2":
        cfg.update({"use_sliding_window": False, "sliding_window": 4096, "max_window_layers": a.layers})
    else:
        cfg.update({"attention_bias": False, "mlp_bias": False, "pretraining_tp": 1})
        if a.rope_scaling:
            cfg["rope_scaling"] = dict(a.rope_scaling, rope_type="llama3")
    return cfg, head_dim


def tensor_specs(a, head_dim):
    """(name, shape, kind) in the order a checkpoint lists them."""
    h, q, kv, inter = a.hidden, a.heads * head_dim, a.kv_heads * head_dim, a.intermediate
    specs = [("model.embed_tokens.weight", (a.vocab, h), "embed")]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        specs.append((p + "input_layernorm.weight", (h,), "norm"))
        specs.append((p + "self_attn.q_proj.weight", (q, h), "matrix"))
        specs.append((p + "self_attn.k_proj.weight", (kv, h), "matrix"))
        specs.append((p + "self_attn.v_proj.weight", (kv, h), "matrix"))
        if a.arch == "qwen2":
            specs.append((p + "self_attn.q_proj.bias", (q,), "bias"))
            specs.append((p + "self_attn.k_proj.bias", (kv,), "bias"))
            specs.append((p + "self_attn.v_proj.bias", (kv,), "bias"))
        specs.append((p + "self_attn.o_proj.weight", (h, q), "matrix"))
        specs.append((p + "post_attention_layernorm.weight", (h,), "norm"))
        specs.append((p + "mlp.gate_proj.weight", (inter, h), "matrix"))
        specs.append((p + "mlp.up_proj.weight", (inter, h), "matrix"))
        specs.append((p + "mlp.down_proj.weight", (h, inter), "matrix"))
    specs.append(("model.norm.weight", (h,), "norm"))
    if not a.tie:
        specs.append(("lm_head.weight", (a.vocab, h), "matrix"))
    return specs


def random_values(rng, shape, kind):
    if kind == "embed":
        return rng.standard_normal(shape, dtype=np.float32)
    if kind == "norm":
        return (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    if kind == "bias":
        return (0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    # Matrices: unit-variance outputs, by rows so huge shapes never need a
    # second full-size temporary.
    out = np.empty(shape, dtype=np.float32)
    scale = np.float32(1.0 / np.sqrt(shape[1]))
    step = max(1, (1 << 24) // shape[1])
    for r in range(0, shape[0], step):
        block = rng.standard_normal((min(step, shape[0] - r), shape[1]), dtype=np.float32)
        block *= scale
        out[r:r + step] = block
    return out


def encode(values, dtype):
    """Little-endian bytes of float32 `values` in the file dtype."""
    if dtype == "fp32":
        return values.astype("<f4").tobytes()
    if dtype == "fp16":
        return values.astype("<f2").tobytes()
    # bf16: round to nearest even on the upper 16 bits.
    u = values.astype("<f4").view("<u4")
    rounded = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return rounded.astype("<u2").tobytes()


def write_safetensors(path, entries, dtype, rng):
    """entries: [(name, shape, kind)]; data generated and written one tensor at a time."""
    st_dtype, size, _ = DTYPES[dtype]
    header, offset = {}, 0
    for name, shape, _ in entries:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data starts 8-aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape, kind in entries:
            f.write(encode(random_values(rng, shape, kind), dtype))
    return offset


def split_shards(specs, shards, size):
    total = sum(int(np.prod(s)) for _, s, _ in specs) * size
    out, current, current_bytes = [], [], 0
    for spec in specs:
        nbytes = int(np.prod(spec[1])) * size
        if current and current_bytes + nbytes > total / shards and len(out) < shards - 1:
            out.append(current)
            current, current_bytes = [], 0
        current.append(spec)
        current_bytes += nbytes
    out.append(current)
    return out


def sha384_file(path):
    h = hashlib.sha384()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--shape", choices=sorted(SHAPES), help="a real model's exact shape")
    p.add_argument("--arch", choices=["qwen2", "llama"], default="qwen2")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=None, help="default hidden/heads (then omitted from config.json)")
    p.add_argument("--intermediate", type=int, default=128)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--max-pos", type=int, default=256)
    p.add_argument("--rope-theta", type=float, default=None)
    p.add_argument("--rms-norm-eps", type=float, default=1e-6)
    p.add_argument("--llama3-rope", default=None, metavar="FACTOR,LOW,HIGH,ORIGINAL",
                   help="llama3 rope_scaling, e.g. 8,1,4,8192 (llama only)")
    p.add_argument("--tie", action="store_true", help="tie_word_embeddings (no lm_head.weight)")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sha384sums", action="store_true", help="also write SHA384SUMS (sha384sum format)")
    p.add_argument("--tokenizer-dir", help="copy tokenizer.json and tokenizer_config.json from here")
    p.add_argument("--bos", type=int, default=1, help="bos_token_id in config.json")
    p.add_argument("--eos", type=int, default=2, help="eos_token_id in config.json")
    a = p.parse_args(argv)

    a.rope_scaling = None
    if a.shape:
        for k, v in SHAPES[a.shape].items():
            setattr(a, k, v)
    else:
        if a.rope_theta is None:
            a.rope_theta = 500000.0 if a.arch == "llama" else 10000.0
        if a.llama3_rope:
            if a.arch != "llama":
                p.error("--llama3-rope needs --arch llama")
            f, lo, hi, orig = a.llama3_rope.split(",")
            a.rope_scaling = dict(factor=float(f), low_freq_factor=float(lo), high_freq_factor=float(hi),
                                  original_max_position_embeddings=int(orig))
    os.makedirs(a.out, exist_ok=True)
    cfg, head_dim = make_config(a)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")

    rng = np.random.default_rng(a.seed)
    specs = tensor_specs(a, head_dim)
    files = ["config.json"]
    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), specs, a.dtype, rng)
        files.append("model.safetensors")
    else:
        groups = split_shards(specs, a.shards, DTYPES[a.dtype][1])
        weight_map, total = {}, 0
        for i, group in enumerate(groups):
            name = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
            total += write_safetensors(os.path.join(a.out, name), group, a.dtype, rng)
            weight_map.update({t: name for t, _, _ in group})
            files.append(name)
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        files.append("model.safetensors.index.json")
    if a.tokenizer_dir:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            src = os.path.join(a.tokenizer_dir, name)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(a.out, name))
                files.append(name)
    if a.sha384sums:
        with open(os.path.join(a.out, "SHA384SUMS"), "w") as f:
            for name in files:
                f.write(f"{sha384_file(os.path.join(a.out, name))}  {name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
