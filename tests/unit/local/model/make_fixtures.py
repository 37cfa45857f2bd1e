#!/usr/bin/env python3
"""Test-time fixtures for dsgw_model_tests: tiny random models in several
variants (tests/support/make_tiny_model.py) and the float64 reference's
logits and greedy tokens for a few prompts (tests/support/reference/).

  make_fixtures.py --out DIR

writes DIR/<variant>/ (a model directory) and DIR/<variant>.ref.json, and
for bf16 weights also DIR/<variant>.kv_bf16.ref.json: the engine keeps their
KV cache in bf16 when it runs them in bf16.
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "support"))
sys.path.insert(0, SUPPORT)
sys.path.insert(0, os.path.join(SUPPORT, "reference"))

import make_tiny_model  # noqa: E402
import dump_reference  # noqa: E402

VARIANTS = {
    # Qwen2: q/k/v bias, GQA 4 heads over 2 kv heads, plain RoPE; with SHA384SUMS.
    "qwen2_f32": ["--arch", "qwen2", "--dtype", "fp32", "--hidden", "64", "--heads", "4", "--kv-heads", "2",
                  "--intermediate", "128", "--vocab", "256", "--layers", "2", "--seed", "1", "--sha384sums"],
    # Llama: llama3 rope scaling (all three frequency bands in play at these
    # positions), head_dim given explicitly and != hidden/heads, 8 heads over
    # 2 kv heads, sharded in 2 files.
    "llama_f32": ["--arch", "llama", "--dtype", "fp32", "--hidden", "64", "--heads", "8", "--kv-heads", "2",
                  "--head-dim", "16", "--intermediate", "96", "--vocab", "200", "--layers", "3", "--seed", "2",
                  "--llama3-rope", "8,1,4,64", "--rms-norm-eps", "1e-5", "--shards", "2"],
    "qwen2_bf16": ["--arch", "qwen2", "--dtype", "bf16", "--hidden", "64", "--heads", "4", "--kv-heads", "2",
                   "--intermediate", "128", "--vocab", "256", "--layers", "2", "--seed", "3"],
    "llama_fp16": ["--arch", "llama", "--dtype", "fp16", "--hidden", "48", "--heads", "4", "--kv-heads", "4",
                   "--intermediate", "80", "--vocab", "130", "--layers", "2", "--seed", "4",
                   "--llama3-rope", "8,1,4,64", "--shards", "3"],
    "qwen2_tied": ["--arch", "qwen2", "--dtype", "fp32", "--hidden", "32", "--heads", "2", "--kv-heads", "1",
                   "--intermediate", "64", "--vocab", "100", "--layers", "1", "--seed", "5", "--tie"],
}

# Token ids valid for every variant (vocab >= 100); lengths 11, 4 and 7.
PROMPTS = ["5,17,3,99,42,8,61,23,77,0,14", "31,7,88,2", "64,12,95,40,6,50,21"]
GENERATE = 8


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, args in VARIANTS.items():
        model_dir = os.path.join(a.out, name)
        make_tiny_model.main(["--out", model_dir] + args)
        ref_args = ["--model", model_dir, "--generate", str(GENERATE)]
        for prompt in PROMPTS:
            ref_args += ["--prompt", prompt]
        dump_reference.main(ref_args + ["--out", model_dir + ".ref.json"])
        if "bf16" in args:
            dump_reference.main(ref_args + ["--kv-dtype", "bf16", "--out", model_dir + ".kv_bf16.ref.json"])
        print(f"fixture {name}: {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
