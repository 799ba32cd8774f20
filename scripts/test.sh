#!/usr/bin/env bash
# Runs every test of the workspace: unit and integration tests over real sockets, and the
# compatibility tests that drive the stack with third-party clients (openid-client, a headless
# Chromium). Installs the Node packages those tests need on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d tests/compat/node_modules ]; then
    npm ci --prefix tests/compat --no-audit --no-fund
fi

cargo test --workspace --locked
