#!/usr/bin/env bash
# Runs every test of the workspace: unit and integration tests over real sockets, and the
# compatibility tests that drive the stack with third-party clients (openid-client, a headless
# Chromium, Auth0's Node.js and Python SDKs). Installs the Node and Python packages those tests
# need on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm records what it installed in node_modules/.package-lock.json; a newer lock file means
# the dependencies changed since.
installed=tests/compat/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ tests/compat/package-lock.json -nt "$installed" ]; then
    npm ci --prefix tests/compat --no-audit --no-fund
fi
if ! python3 -c 'from auth0.management import ManagementClient' 2>/dev/null; then
    python3 -m pip install -q -r tests/compat/requirements.txt
fi

cargo test --workspace --locked
