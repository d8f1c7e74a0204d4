#!/usr/bin/env bash
# Makes a fresh machine ready: the pinned pnpm, the workspace's dependencies, the
# Mesa libraries the WebGPU backend needs on machines without a GPU (Dawn then runs on
# Mesa's llvmpipe through OpenGL ES; see docs/decisions/webgpu-on-cpu.md), and Debian's
# Chromium for the browser tests (pnpm test:browser, check:pack's browser step, the
# report's browser test; driven by playwright-core, which downloads no browser: see
# docs/decisions/browser-tests.md).
# Safe to run repeatedly; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
# Mesa for WebGPU on CPU; DejaVu fonts so the report's PNG plots have text; chromium
# for the browser tests (its WebGPU runs on SwiftShader without a GPU).
MESA_PKGS=(libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri fonts-dejavu-core chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${MESA_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: the WebGPU backend (on a machine without a GPU), the report plots and the browser tests need these Debian packages:" >&2
    echo "         sudo apt-get install -y ${missing[*]}" >&2
    echo "       continuing; WebGPU tests will skip (or fail under TANDEM_REQUIRE_WEBGPU=1), browser tests too (or fail under TANDEM_REQUIRE_BROWSER=1)." >&2
  fi
fi

if [ ! -d node_modules/.pnpm ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  npx -y "pnpm@${PNPM_VERSION}" install --frozen-lockfile
fi
