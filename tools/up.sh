#!/usr/bin/env bash
# Installs what is missing, builds, and runs dsgw on its default config
# (config/dsgw.toml, http://127.0.0.1:8080). Extra arguments go to `dsgw serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build --parallel "$(nproc)" --target dsgw
exec build/dsgw serve --config config/dsgw.toml "$@"
