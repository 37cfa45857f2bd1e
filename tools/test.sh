#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what is missing, builds,
# then runs the unit tests and the integration tests against the real daemon,
# and the unit tests again under ASan+UBSan: the gateway's and the engine's.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
# libgomp threads spin between parallel sections by default; on a 2-core box
# that starves the daemons the integration tests start.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
tools/install-deps.sh
npm ci --prefix tests --no-audit --no-fund
if [[ -f tests/support/tokenizers/package-lock.json ]]; then
  npm ci --prefix tests/support/tokenizers --no-audit --no-fund
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build --parallel "$jobs"
ctest --test-dir build --output-on-failure --parallel 1

# Sanitizers (ASan+UBSan): the gateway's unit tests, built without libtorch;
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDSGW_SANITIZE=ON -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON
cmake --build build-asan --parallel "$jobs" --target dsgw_gateway_tests
ctest --test-dir build-asan --output-on-failure -R dsgw_gateway_tests
# then the engine's unit tests (tokenizer, chat, sampling, the model's gemv
# and attention kernels, the scheduler) on libtorch, at -O1 as ASan's
# documentation advises (at -O0 the sampling tests alone take minutes).
cmake -S . -B build-asan-engine -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DDSGW_SANITIZE=ON -DDSGW_ENGINE_ONLY=ON
cmake --build build-asan-engine --parallel "$jobs"
ctest --test-dir build-asan-engine --output-on-failure --parallel 1
