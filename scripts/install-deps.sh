#!/usr/bin/env bash
# Usage: scripts/install-deps.sh [--runtime]
#   --runtime: only the shared libraries the built medassist binary needs (the container's final
#   stage); scripts/check-runtime-deps.sh, run by the tests, keeps that list true.
# Installs the Debian packages the project builds and tests with, then the npm packages of web/ (Swagger
# UI, embedded in the binary for /docs; the OpenAI client the server tests use). Idempotent and fast when
# everything is already there: apt-get runs only for packages that are missing, npm only when
# web/package-lock.json is newer than what web/node_modules holds. Run as root (or with sudo).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build tools and libraries (see docs/architecture.md for which layer uses which).
PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config git ca-certificates
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  libcpp-httplib-dev libcurl4-openssl-dev libssl-dev
  # train/ (medassist-train): LibTorch, its distributed headers, and OpenBLAS for its F32 GEMM
  # (without it LibTorch falls back to the reference BLAS, about 10x slower per training step)
  libtorch-dev libgloo-dev libopenblas0-openmp
)

# What the medassist binary loads at run time (no compiler, no headers, no node).
RUNTIME_PACKAGES=(
  libc6 libgcc-s1 libstdc++6 libpcre2-8-0 libutf8proc2 libspdlog1.10 libfmt9 libcpp-httplib0.11
  libssl3 zlib1g libbrotli1 libcurl4 ca-certificates curl
  # libcurl4's own libraries (apt installs them with it; listed so the check below stays exact)
  libcom-err2 libffi8 libgmp10 libgnutls30 libgssapi-krb5-2 libhogweed6 libidn2-0 libk5crypto3
  libkeyutils1 libkrb5-3 libkrb5support0 libldap-2.5-0 libnettle8 libnghttp2-14 libp11-kit0
  libpsl5 librtmp1 libsasl2-2 libssh2-1 libtasn1-6 libunistring2 libzstd1
)

if [[ "${1:-}" == "--list-runtime" ]]; then
  printf '%s\n' "${RUNTIME_PACKAGES[@]}"
  exit 0
fi
if [[ "${1:-}" == "--runtime" ]]; then
  PACKAGES=("${RUNTIME_PACKAGES[@]}")
  SKIP_NODE=1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# node and npm are checked as commands, not packages: a NodeSource nodejs already ships npm.
if [[ -z "${SKIP_NODE:-}" ]]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
  what="packages and node/npm"
  [[ -n "${SKIP_NODE:-}" ]] && what="runtime packages"
  echo "install-deps: all ${#PACKAGES[@]} $what present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[[ -n "${SKIP_NODE:-}" ]] && exit 0

# web/node_modules: npm writes node_modules/.package-lock.json on every install, so a lock file newer
# than it means the pinned versions changed. Under sudo, npm runs as the calling user so that the
# checkout does not end up owned by root. --ignore-scripts: none of the packages needs one.
lock="$ROOT/web/package-lock.json"
installed="$ROOT/web/node_modules/.package-lock.json"
if [[ ! -f "$installed" || "$lock" -nt "$installed" ]]; then
  echo "install-deps: npm ci --prefix web"
  as_user=()
  if [[ -n "${SUDO_USER:-}" && "${SUDO_USER}" != root ]]; then as_user=(sudo -u "$SUDO_USER"); fi
  "${as_user[@]}" npm ci --prefix "$ROOT/web" --no-audit --no-fund --ignore-scripts --loglevel=error
fi
