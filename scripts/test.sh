#!/usr/bin/env bash
# The whole test suite: formatting and lints, unit tests, the integration suite on SQLite
# and again on PostgreSQL, then the browser journeys in headless Chromium against the real
# binary and the built SPA. `.ci/run` calls exactly this.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "install what is missing"
bash scripts/install.sh

step "PostgreSQL"
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

step "format and lints"
cargo fmt --all --check
cargo clippy -p gatehouse -p gatehouse-shared --all-targets -- -D warnings
cargo clippy -p gatehouse-frontend --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests on SQLite"
cargo test -p gatehouse -p gatehouse-shared
# The SPA's own unit tests (return paths, durations, countdowns, policy faults) on the host.
cargo test -p gatehouse-frontend --lib

step "integration tests on PostgreSQL"
TEST_DATABASE_URL="$PG_ADMIN_URL" cargo test -p gatehouse --test api

step "browser journeys (headless Chromium)"
bash scripts/build-spa.sh
cargo build -p gatehouse
(cd e2e && GATEHOUSE_BIN="$TARGET_DIR/debug/gatehouse" node --test --test-concurrency=1 tests/)
