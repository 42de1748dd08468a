#!/usr/bin/env bash
# Overload (BENCHMARKS.md, "Overload"): each gated endpoint of the release binary (SQLite,
# loopback). First its nominal load: a closed loop of keep-alive connections, which finds
# the throughput it sustains (the peak) and its p99. Then an open loop — requests arriving
# at a multiple of that peak whatever happens to the earlier ones, latency counted from
# when each was due — and the closed loop again (recovery). Reported: what is admitted
# (per second, p50, p99), what is shed (503/429, each with Retry-After), the server's memory.
#   sign-in      POST /api/v1/auth/login, valid passwords of 64 people in turn (Argon2id)
#   credentials  POST /api/v1/portal/credentials (session, assignment, commit with its event)
#   portal       GET /api/v1/portal
#   sts          GetCallerIdentity, pre-signed, each nonce once
#   acs          SAML ACS sign-ins, each a fresh pysaml2-signed response used once
# Usage: scripts/bench-overload.sh [ENDPOINT…]            (default: all five)
# Env: GATEHOUSE_BIN (a built binary; else cargo build --release), RUN_SECS (10),
#      LOADS (multiples of the peak for the open loop, default "2 4"),
#      NOMINAL_<endpoint with _ for -> (connections of the closed loop; default each kind's
#      admission bound on 2 cores, where its throughput stops growing).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
endpoints=("$@"); [ ${#endpoints[@]} -gt 0 ] || endpoints=(sign-in credentials portal sts acs)
run_secs="${RUN_SECS:-10}"; loads="${LOADS:-2 4}"
declare -A nominal=([sign-in]="${NOMINAL_sign_in:-4}" [credentials]="${NOMINAL_credentials:-64}"
  [portal]="${NOMINAL_portal:-32}" [sts]="${NOMINAL_sts:-64}" [acs]="${NOMINAL_acs:-16}")
py="$ROOT/e2e/saml/.venv/bin/python"
[ -x "$py" ] || { echo "run scripts/install-test.sh first (e2e/saml/.venv)" >&2; exit 1; }
bin="${GATEHOUSE_BIN:-$TARGET_DIR/release/gatehouse}"
[ -n "${GATEHOUSE_BIN:-}" ] || cargo build --release -p gatehouse
# The load client (benches/load): closed loop, admitted and shed answers timed apart.
(cd benches/load && cargo build --release -q)
load="$ROOT/benches/load/target/release/gatehouse-load"
dir=$(mktemp -d)
# Every sign-in comes from 127.0.0.1 here, as a crowd's would not: the per-address limit
# (which counts each attempt while it is checked) is raised out of the way.
GATEHOUSE_BOOTSTRAP_PASSWORD=benchmark-password GATEHOUSE_LOG=warn GATEHOUSE_LOGIN_IP_LIMIT=1000000 \
  "$bin" serve --bind 127.0.0.1:0 --data-dir "$dir" --database-url "sqlite://$dir/gatehouse.db" \
  --static-dir dist > "$dir/out" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 600); do grep -q listening "$dir/out" && break; sleep 0.2; done
url=$(sed -n 's/^Gatehouse listening on //p' "$dir/out")

# The world: the administrator assigned a permission set on one account, and a SAML IdP.
jar="$dir/cookies"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
me=$(curl -sf -c "$jar" -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' "$url/api/v1/auth/login")
csrf=$(echo "$me" | json "['csrf_token']")
uid=$(echo "$me" | json "['user']['id']")
cookie="gatehouse_session=$(awk '$6=="gatehouse_session" {print $7}' "$jar")"
api() { curl -sf -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" "$@"; }
api -d '{"id":"1234567890123456","name":"Bench","environment":"production"}' "$url/api/v1/accounts" >/dev/null
ps=$(api -d '{"name":"Bench","system_policies":["AliyunECSReadOnlyAccess"]}' "$url/api/v1/permission-sets" | json "['id']")
api -d "{\"principal_type\":\"user\",\"principal_id\":\"$uid\",\"account_id\":\"1234567890123456\",\"permission_set_id\":\"$ps\"}" "$url/api/v1/assignments" >/dev/null
api -d '{}' "$url/api/v1/permission-sets/$ps/provision" >/dev/null
issue="{\"account_id\":\"1234567890123456\",\"permission_set_id\":\"$ps\"}"

# One request file per endpoint: {method, path, headers, body} per line.
line() { python3 -c 'import json,sys; print(json.dumps({"method":sys.argv[1],"path":sys.argv[2],"headers":json.loads(sys.argv[3]),"body":sys.argv[4]}))' "$@"; }
prepare() {
  case "$1" in
    sign-in)
      # 64 people, so that no account has more sign-ins in progress than its own limit.
      for i in $(seq 0 63); do
        api -d "{\"username\":\"bench$i\",\"email\":\"bench$i@example.com\",\"display_name\":\"Bench $i\",\"password\":\"benchmark-password-$i\"}" \
          "$url/api/v1/users" >/dev/null
        line POST /api/v1/auth/login '{"content-type":"application/json"}' \
          "{\"username\":\"bench$i\",\"password\":\"benchmark-password-$i\"}"
      done ;;
    credentials) line POST /api/v1/portal/credentials \
               "{\"content-type\":\"application/json\",\"cookie\":\"$cookie\",\"x-csrf-token\":\"$csrf\"}" "$issue" ;;
    portal) line GET /api/v1/portal "{\"cookie\":\"$cookie\"}" "" ;;
    sts)
      creds=$(api -d "$issue" "$url/api/v1/portal/credentials")
      python3 scripts/bench/sts-sign.py "$(echo "$creds" | json "['access_key_id']")" \
        "$(echo "$creds" | json "['access_key_secret']")" "$(echo "$creds" | json "['security_token']")" \
        "${STS_REQUESTS:-600000}" | python3 -c 'import json,sys
for p in sys.stdin: print(json.dumps({"method":"GET","path":p.strip()}))' ;;
    acs)
      entity="https://idp.bench.example/saml"
      "$py" -W ignore e2e/saml/idp.py keys "$dir/idp" >/dev/null
      metadata=$("$py" -W ignore e2e/saml/idp.py metadata "$dir/idp" "$entity" "https://idp.bench.example/sso")
      idp=$(python3 -c 'import json,sys; print(json.dumps({"name":"Bench IdP","kind":"saml","jit_create":True,"saml_metadata_xml":sys.argv[1]}))' "$metadata" \
        | api -d @- "$url/api/v1/idps" | json "['id']")
      "$py" -W ignore scripts/bench/saml-prepare.py "$url" "$idp" "$dir/idp" "$entity" "${ACS_REQUESTS:-12000}" \
        | IDP="$idp" python3 -c 'import json,os,sys
for l in sys.stdin:
    p = json.loads(l)
    print(json.dumps({"method":"POST","path":"/auth/saml/%s/acs" % os.environ["IDP"],
        "headers":{"content-type":"application/x-www-form-urlencoded","cookie":p["cookie"]},"body":p["body"]}))' ;;
  esac
}
mode() { case "$1" in sts|acs) echo once ;; *) echo cycle ;; esac; }
ok() { case "$1" in acs) echo 303 ;; *) echo 200 ;; esac; }
rss() { awk "/^$1/ {print int(\$2/1024)}" "/proc/$pid/status"; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$pid/stat"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for e in "${endpoints[@]}"; do
  prepare "$e" > "$dir/$e.jsonl"
  # Warm-up, not reported (SAML: the first sign-in of each bench user creates the account).
  start=$("$load" "$url" "$dir/$e.jsonl" "${nominal[$e]}" 2 "$(mode "$e")" | json "['next_line']")
  # run LABEL CONNECTIONS [RATE]: one measured run, reported on one line.
  run() {
    local c0; c0=$(cpu_ms)
    out=$("$load" "$url" "$dir/$e.jsonl" "$2" "$run_secs" "$(mode "$e")" "$(ok "$e")" "$start" ${3:+"$3"})
    [ "$(mode "$e")" = cycle ] || start=$(echo "$out" | json "['next_line']")
    echo "$e $1 $out server_cpu_ms=$(( $(cpu_ms) - c0 )) rss_mb=$(rss VmRSS) peak_rss_mb=$(rss VmHWM)"
  }
  run nominal "${nominal[$e]}"
  peak=$(echo "$out" | json "['admitted_per_sec']")
  for m in $loads; do
    run "open-${m}x" 4096 "$(python3 -c "print($peak * $m)")"
  done
  run recovered "${nominal[$e]}"
done
sleep 5
echo "RSS 5 s after the runs: $(rss VmRSS) MB"
