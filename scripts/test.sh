#!/usr/bin/env bash
# The whole test suite: formatting and lints, unit tests, the integration suite on SQLite
# and again on PostgreSQL, then the browser journeys in headless Chromium against the real
# binary and the built SPA. `.ci/run` calls exactly this.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# Each step says how long the suite has run, so a slow step shows in CI's log.
step() { printf '\n\033[1m==> [%dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "install what is missing"
bash scripts/install-test.sh

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

step "dependencies (cargo deny: advisories, licences, duplicate versions, sources)"
# The RustSec advisory database is a git repository on GitHub. Where it cannot be fetched (a
# network that reaches only the package registries), the other checks still run and the log
# says, loudly, that advisories were not checked (docs/DEPENDENCIES.md).
if cargo deny fetch db >/dev/null 2>&1; then
  cargo deny check
else
  printf '\033[1;33mWARNING: the RustSec advisory database could not be fetched: advisories NOT checked\033[0m\n'
  cargo deny check licenses bans sources
fi

step "the Alibaba Cloud emulator's own tests (official SDKs against it)"
e2e/sdk/.venv/bin/python e2e/alibaba/test_emulator.py

step "unit and integration tests on SQLite"
# shared's tests include the SPA's own logic (return paths, durations, countdowns, policy
# faults), which lives there so that no host build of Leptos is needed to test it.
cargo test -p gatehouse -p gatehouse-shared

step "integration tests on PostgreSQL"
TEST_DATABASE_URL="$PG_ADMIN_URL" cargo test -p gatehouse --test api

step "browser journeys (headless Chromium)"
bash scripts/build-spa.sh
# The binary `cargo test` built for the integration tests: `cargo build` would build it again
# without the dev-dependencies' features.
(cd e2e && GATEHOUSE_BIN="$TARGET_DIR/debug/gatehouse" node --test --test-concurrency=1 tests/)

step "done"
