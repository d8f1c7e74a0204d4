#!/usr/bin/env bash
# Entry point of the README's commands: set up the machine, then run a workspace script.
# Usage: scripts/run.sh <script> [args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
export EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
exec npx -y "pnpm@${PNPM_VERSION}" run "$@"
