#!/usr/bin/env bash
# Installs the Debian packages dsgw builds, runs and tests with. Idempotent:
# installs only what is missing. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libcpp-httplib-dev libtomlplusplus-dev nlohmann-json3-dev
  libpaho-mqtt-dev libpaho-mqttpp-dev
  doctest-dev libsqlite3-dev sqlite3 libssl-dev openssl ca-certificates
  libtorch-dev libopenblas0-pthread python3-torch python3-numpy
  mosquitto mosquitto-clients prometheus
  curl
)
# Node.js drives the integration tests; any Node >= 20 on PATH will do
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
