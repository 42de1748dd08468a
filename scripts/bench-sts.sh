#!/usr/bin/env bash
# Load tests of the release binary on loopback (BENCHMARKS.md, "STS"):
#   1. credential issue: POST /api/v1/portal/credentials as a signed-in person, which checks
#      the session and the assignment and commits the credential with its audit event;
#   2. GetCallerIdentity: pre-signed RPC requests, each with its own nonce, verified in memory.
# Usage: scripts/bench-sts.sh [sqlite|postgres]   (default sqlite)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
engine="${1:-sqlite}"
command -v wrk >/dev/null || { sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
cargo build --release -p gatehouse
dir=$(mktemp -d)
case "$engine" in
  sqlite) db="sqlite://$dir/gatehouse.db" ;;
  postgres)
    name="gatehouse_bench_$$"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $name"
    db="postgres://postgres@127.0.0.1:5432/$name" ;;
  *) echo "usage: $0 [sqlite|postgres]" >&2; exit 2 ;;
esac
GATEHOUSE_BOOTSTRAP_PASSWORD=benchmark-password GATEHOUSE_LOG=warn \
  "$TARGET_DIR/release/gatehouse" serve --bind 127.0.0.1:0 --data-dir "$dir" --database-url "$db" --static-dir dist > "$dir/out" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  [ "$engine" = postgres ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $name" || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q listening "$dir/out" && break; sleep 0.2; done
url=$(sed -n 's/^Gatehouse listening on //p' "$dir/out")

jar="$dir/cookies"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
me=$(curl -sf -c "$jar" -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' "$url/api/v1/auth/login")
csrf=$(echo "$me" | json "['csrf_token']")
uid=$(echo "$me" | json "['user']['id']")
api() { curl -sf -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" "$@"; }
api -d '{"id":"1234567890123456","name":"Bench","environment":"production"}' "$url/api/v1/accounts" >/dev/null
ps=$(api -d '{"name":"Bench","system_policies":["AliyunECSReadOnlyAccess"]}' "$url/api/v1/permission-sets" | json "['id']")
api -d "{\"principal_type\":\"user\",\"principal_id\":\"$uid\",\"account_id\":\"1234567890123456\",\"permission_set_id\":\"$ps\"}" "$url/api/v1/assignments" >/dev/null
api -d '{}' "$url/api/v1/permission-sets/$ps/provision" >/dev/null
body="{\"account_id\":\"1234567890123456\",\"permission_set_id\":\"$ps\"}"

echo "== credential issue ($engine): wrk -t2 -c32 -d20s"
WRK_BODY="$body" WRK_COOKIE="gatehouse_session=$(awk '$6=="gatehouse_session" {print $7}' "$jar")" WRK_CSRF="$csrf" \
  wrk -t2 -c32 -d20s --latency -s scripts/bench/issue.lua "$url/api/v1/portal/credentials"

echo "== GetCallerIdentity ($engine): wrk -t2 -c64 -d10s over pre-signed requests"
creds=$(api -d "$body" "$url/api/v1/portal/credentials")
ak=$(echo "$creds" | json "['access_key_id']")
sk=$(echo "$creds" | json "['access_key_secret']")
tok=$(echo "$creds" | json "['security_token']")
python3 scripts/bench/sts-sign.py "$ak" "$sk" "$tok" 600000 > "$dir/paths"
check=$(curl -s "$url$(head -1 "$dir/paths")")
echo "$check" | grep -q '"Arn"' || { echo "the pre-signed request was refused: $check" >&2; exit 1; }
WRK_PATHS="$dir/paths" WRK_THREADS=2 wrk -t2 -c64 -d10s --latency -s scripts/bench/paths.lua "$url"
echo "RSS after the runs: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
