#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with. Idempotent and fast when everything
# is already there: apt-get runs only for packages that are missing. Run as root (or with sudo).
set -euo pipefail

# Build tools and libraries (see docs/architecture.md for which layer uses which).
PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config git ca-certificates
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
