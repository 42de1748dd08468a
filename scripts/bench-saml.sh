#!/usr/bin/env bash
# Load test of the SAML ACS on the release binary over loopback (BENCHMARKS.md, "SAML ACS"):
# full SP-initiated sign-ins, each a fresh pysaml2-signed Response answering its own
# outstanding request, posted with its own browser's binding cookie: signature and content
# checks, InResponseTo consumed, assertion ID remembered, account link, groups, session and
# audit events committed.
# Usage: scripts/bench-saml.sh [sqlite|postgres] [N] [CONCURRENCY]   (default sqlite 2000 16)
# Profiling the measured load only (not start-up, preparation or warm-up), into $PROFILE_OUT
# (default /tmp/saml-profile):
#   PROFILE=callgrind  the server runs under valgrind; instructions counted during the load
#                      (callgrind_annotate the file; divide by the number of sign-ins)
#   PROFILE=strace     the server's syscalls during the load, counted (strace -c)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
engine="${1:-sqlite}"; n="${2:-2000}"; conc="${3:-16}"
py="$ROOT/e2e/saml/.venv/bin/python"
[ -x "$py" ] || { echo "run scripts/install-test.sh first (e2e/saml/.venv)" >&2; exit 1; }
bin="${GATEHOUSE_BIN:-$TARGET_DIR/release/gatehouse}"
[ -n "${GATEHOUSE_BIN:-}" ] || cargo build --release -p gatehouse
dir=$(mktemp -d)
case "$engine" in
  sqlite) db="sqlite://$dir/gatehouse.db" ;;
  postgres)
    name="gatehouse_bench_$$"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $name"
    db="postgres://postgres@127.0.0.1:5432/$name" ;;
  *) echo "usage: $0 [sqlite|postgres] [N] [CONCURRENCY]" >&2; exit 2 ;;
esac
profile="${PROFILE:-}"; out="${PROFILE_OUT:-/tmp/saml-profile}"
wrap=()
if [ "$profile" = callgrind ]; then
  mkdir -p "$out"
  wrap=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.out")
fi
GATEHOUSE_BOOTSTRAP_PASSWORD=benchmark-password GATEHOUSE_LOG=warn \
  "${wrap[@]}" "$bin" serve --bind 127.0.0.1:0 --data-dir "$dir" --database-url "$db" --static-dir dist > "$dir/out" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  [ "$engine" = postgres ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $name" || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 600); do grep -q listening "$dir/out" && break; sleep 0.2; done
url=$(sed -n 's/^Gatehouse listening on //p' "$dir/out")

entity="https://idp.bench.example/saml"
"$py" -W ignore e2e/saml/idp.py keys "$dir/idp" >/dev/null
metadata=$("$py" -W ignore e2e/saml/idp.py metadata "$dir/idp" "$entity" "https://idp.bench.example/sso")
jar="$dir/cookies"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
me=$(curl -sf -c "$jar" -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' "$url/api/v1/auth/login")
csrf=$(echo "$me" | json "['csrf_token']")
api() { curl -sf -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" "$@"; }
api -d '{"name":"engineers"}' "$url/api/v1/groups" >/dev/null
idp=$(python3 -c 'import json,sys; print(json.dumps({"name":"Bench IdP","kind":"saml","jit_create":True,"saml_metadata_xml":sys.argv[1]}))' "$metadata" \
  | api -d @- "$url/api/v1/idps" | json "['id']")

echo "== preparing $n requests (one browser each) and $n pysaml2-signed responses"
start=$(date +%s)
"$py" -W ignore scripts/bench/saml-prepare.py "$url" "$idp" "$dir/idp" "$entity" "$n" > "$dir/pairs"
echo "   prepared in $(( $(date +%s) - start ))s"
# Warm-up, not reported: the first sign-in of each of the 100 bench users creates the account.
head -100 "$dir/pairs" > "$dir/warm"; tail -n +101 "$dir/pairs" > "$dir/load"
node scripts/bench/saml-load.js "$url/auth/saml/$idp/acs" "$dir/warm" 1 >/dev/null
echo "== SAML ACS ($engine): $(wc -l < "$dir/load") sign-ins, concurrency $conc (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
case "$profile" in
  callgrind) callgrind_control -i on "$pid" >/dev/null ;;
  strace) mkdir -p "$out"; strace -f -c -o "$out/strace.txt" -p "$pid" & tracer=$!; sleep 1 ;;
esac
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }   # the server's user+system CPU, in ticks
cpu0=$(cpu)
node scripts/bench/saml-load.js "$url/auth/saml/$idp/acs" "$dir/load" "$conc"
echo "server CPU per sign-in: $(( ($(cpu) - cpu0) * 1000000 / $(getconf CLK_TCK) / $(wc -l < "$dir/load") )) µs"
case "$profile" in
  callgrind) callgrind_control -i off "$pid" >/dev/null; callgrind_control -d "$pid" >/dev/null
             echo "instructions: $out/callgrind.out*" ;;
  strace) kill -INT "$tracer"; wait "$tracer" || true; echo "syscalls: $out/strace.txt" ;;
esac
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RSS after the run: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
