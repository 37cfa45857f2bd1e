#!/usr/bin/env python3
"""Dump the reference model's logits and greedy tokens to JSON.

  dump_reference.py --model DIR --prompt 1,2,3 [--prompt 4,5 ...]
                    [--generate N] [--kv-dtype bf16] --out FILE.json

Output: {"prompts": [{"tokens": [...], "logits": [[vocab floats] per position],
"greedy": [N token ids continuing the prompt]}]}. Logits come from
a float64 forward over the whole sequence (reference_model.py); with
--kv-dtype bf16, keys and values rounded to bf16 as a bf16 KV cache holds them.
"""
import argparse
import json
import os
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import ReferenceModel  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--prompt", action="append", required=True, help="comma-separated token ids")
    p.add_argument("--generate", type=int, default=0, help="greedy tokens to generate after each prompt")
    p.add_argument("--kv-dtype", choices=["bf16"], help="round cached keys and values to this dtype")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    model = ReferenceModel(a.model, kv_dtype=torch.bfloat16 if a.kv_dtype == "bf16" else None)
    prompts = []
    for text in a.prompt:
        tokens = [int(t) for t in text.split(",")]
        entry = {"tokens": tokens, "logits": model.forward(tokens).tolist()}
        if a.generate:
            entry["greedy"] = model.greedy(tokens, a.generate)
        prompts.append(entry)
    with open(a.out, "w") as f:
        json.dump({"model": os.path.abspath(a.model), "prompts": prompts}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
