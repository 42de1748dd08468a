#!/usr/bin/env bash
# Installs what is missing, builds the SPA and the release binary, and serves Gatehouse on
# http://127.0.0.1:8080 with SQLite under ./data. Extra arguments go to `gatehouse serve`
# (for example --demo for an example directory, --database-url postgres://...).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/install.sh system
# The server builds while the SPA's tools are installed and the SPA is built: on 2 cores a
# cargo build leaves a core idle for much of its time (one crate's code generation, a
# link, the wasm's link-time optimisation), and the two never wait for each other's lock
# (the server builds into target/release, the SPA into target/wasm32-unknown-unknown, and
# `cargo install` into a directory of its own).
( set -o pipefail; cargo build --release -p gatehouse 2>&1 | sed -u 's/^/[server] /' ) &
server_build=$!
trap 'pkill -P "$server_build" 2>/dev/null; kill "$server_build" 2>/dev/null || true' EXIT
bash scripts/install.sh spa-tools
bash scripts/build-spa.sh
say "waiting for the server's build"
wait "$server_build"
trap - EXIT
exec "$TARGET_DIR/release/gatehouse" serve --static-dir dist "$@"
