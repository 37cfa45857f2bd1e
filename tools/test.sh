#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what is missing, builds,
# then runs the unit tests (also under ASan+UBSan for the code that does not
# link libtorch) and the integration tests against the real daemon.
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

# Sanitizers: the gateway's unit tests, built without libtorch.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDSGW_SANITIZE=ON -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON
cmake --build build-asan --parallel "$jobs" --target dsgw_gateway_tests
ctest --test-dir build-asan --output-on-failure -R dsgw_gateway_tests
