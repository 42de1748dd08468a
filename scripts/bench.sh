#!/usr/bin/env bash
# Reproduces BENCHMARKS.md: the audit benchmarks (SQLite, and PostgreSQL when reachable)
# and the server's idle resident memory.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cargo bench --bench audit
cargo build --release -p gatehouse
dir=$(mktemp -d)
GATEHOUSE_BOOTSTRAP_PASSWORD=benchmark-password "$TARGET_DIR/release/gatehouse" serve --bind 127.0.0.1:0 --data-dir "$dir" --static-dir dist > "$dir/out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do grep -q listening "$dir/out" && break; sleep 0.2; done
url=$(sed -n 's/^Gatehouse listening on //p' "$dir/out")
# Some traffic first, so the measurement includes warmed pools and caches.
for _ in $(seq 1 200); do curl -s -o /dev/null "$url/healthz"; curl -s -o /dev/null "$url/readyz"; done
sleep 5
echo "idle RSS after 400 requests: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
