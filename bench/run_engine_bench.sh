#!/usr/bin/env bash
# Local-engine throughput on random weights in the exact R1-Distill-Qwen-1.5B
# shape: makes the model (~3.5 GB of bf16 safetensors, never in git) if it is
# missing, builds the benchmark if needed, prints the machine and runs it.
#
#   bench/run_engine_bench.sh [bench_engine_throughput options...]
#     e.g. --dtype bf16 --tokens 32 --threads 2 (see bench/engine_throughput.cpp)
#
# Environment: BUILD_DIR (default build, the README's Release build; it needs libtorch),
# MODEL_DIR (default $BUILD_DIR/bench-models/r1-distill-qwen-1.5b-bf16),
# OMP_WAIT_POLICY (default PASSIVE, as tools/up.sh and the systemd unit run dsgw).
# A full run (fp32 and bf16) takes 2-6 minutes on the 2-core dev box.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
MODEL_DIR=${MODEL_DIR:-$BUILD_DIR/bench-models/r1-distill-qwen-1.5b-bf16}
BIN=$BUILD_DIR/bench/bench_engine_throughput
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

if [[ ! -f $MODEL_DIR/model.safetensors || ! -f $MODEL_DIR/config.json ]]; then
  echo "making random R1-Distill-Qwen-1.5B-shaped weights in $MODEL_DIR (~3.5 GB)..." >&2
  tmp="$MODEL_DIR.partial"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$MODEL_DIR")"
  /usr/bin/python3 tests/support/make_tiny_model.py --out "$tmp" --shape r1-distill-qwen-1.5b --dtype bf16 >&2
  rm -rf "$MODEL_DIR"
  mv "$tmp" "$MODEL_DIR"
fi

# Drop the weights from the page cache, so that the engine reads them back
# into 2 MB folios and maps them with 2 MB pages, as after a reboot: cached
# from being written, they stay on 4 KB pages, and decode ran up to 1.5x
# slower (bench/RESULTS.md, 2026-11-29 06:00). The run prints how much was.
dd if="$MODEL_DIR/model.safetensors" iflag=nocache count=0 status=none

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >&2
elif ! grep -qx 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD_DIR/CMakeCache.txt"; then
  echo "run_engine_bench: $BUILD_DIR is not a Release build; set BUILD_DIR to one (or a new directory)" >&2
  exit 1
fi
if ! cmake --build "$BUILD_DIR" -j2 --target bench_engine_throughput >&2; then
  echo "run_engine_bench: could not build bench_engine_throughput in $BUILD_DIR (it needs libtorch: tools/install-deps.sh)" >&2
  exit 1
fi

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GB total, " $7 " GB available"}')"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo "command: OMP_WAIT_POLICY=$OMP_WAIT_POLICY $BIN $MODEL_DIR $*"
echo
"$BIN" "$MODEL_DIR" "$@"
echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
