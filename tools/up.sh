#!/usr/bin/env bash
# Installs what is missing, builds, makes the demo model (random weights) if
# it is not there, and runs dsgw on its default config (config/dsgw.toml,
# http://127.0.0.1:8080). Extra arguments go to `dsgw serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build --parallel "$(nproc)" --target dsgw
tools/make-demo-model.sh build/demo-model
# libgomp's threads spin between parallel sections unless told otherwise,
# which starves the HTTP threads on small machines.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
exec build/dsgw serve --config config/dsgw.toml "$@"
