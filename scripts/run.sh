#!/usr/bin/env bash
# Installs what is missing, builds the SPA and the release binary, and serves Gatehouse on
# http://127.0.0.1:8080 with SQLite under ./data. Extra arguments go to `gatehouse serve`
# (for example --demo for an example directory, --database-url postgres://...).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/install.sh
bash scripts/build-spa.sh
cargo build --release -p gatehouse
exec "$TARGET_DIR/release/gatehouse" serve --static-dir dist "$@"
