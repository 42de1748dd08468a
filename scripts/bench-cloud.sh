#!/usr/bin/env bash
# Credential issue through a cloud provider vs the local provider, side by side in one run
# (BENCHMARKS.md, "Cloud credentials"): the release binary on loopback with one `local` and
# one cloud account, `wrk` issuing credentials for each in alternation, three rounds.
#   stub (default): Alibaba's STS and RAM are scripts/bench/sts-stub.mjs, which answers at
#                   once: the rate is Gatehouse's own (assertion signing, request, answer).
#   emulator:       the strict Alibaba Cloud emulator (e2e/alibaba; every assertion verified
#                   by libxmlsec1).
#   aws:            an `aws` account against moto's server (e2e/aws, access control on), its
#                   setup kit applied with boto3 as in the tests.
# Usage: scripts/bench-cloud.sh [stub|emulator|aws]
# GATEHOUSE_BIN: a built binary to measure (old and new in alternation); else cargo build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
mode="${1:-stub}"
command -v wrk >/dev/null || { sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
bin="${GATEHOUSE_BIN:-$TARGET_DIR/release/gatehouse}"
[ -n "${GATEHOUSE_BIN:-}" ] || cargo build --release -p gatehouse
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
ready() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "not ready: $1" >&2; exit 1; }
CLOUD_ACCOUNT=1111222233334444
provider=alibaba
case "$mode" in
  stub) node scripts/bench/sts-stub.mjs "$dir/cloud.json" & pids+=($!) ;;
  emulator) e2e/sdk/.venv/bin/python e2e/alibaba/emulator.py --port 0 --quiet --ready-file "$dir/cloud.json" & pids+=($!) ;;
  aws)
    CLOUD_ACCOUNT=123456789012 provider=aws
    e2e/aws/.venv/bin/python e2e/aws/moto_gatehouse.py --quiet --ready-file "$dir/cloud.json" & pids+=($!) ;;
  *) echo "usage: $0 [stub|emulator|aws]" >&2; exit 2 ;;
esac
ready "$dir/cloud.json"
cloud="http://127.0.0.1:$(python3 -c "import json;print(json.load(open('$dir/cloud.json'))['port'])")"

GATEHOUSE_BOOTSTRAP_PASSWORD=benchmark-password GATEHOUSE_LOG=warn \
GATEHOUSE_ALIBABA_STS_ENDPOINT="$cloud" GATEHOUSE_ALIBABA_RAM_ENDPOINT="$cloud" \
GATEHOUSE_ALIBABA_SIGNIN_URL="$cloud/saml-role/sso" \
GATEHOUSE_AWS_STS_ENDPOINT="$cloud" GATEHOUSE_AWS_IAM_ENDPOINT="$cloud" \
  "$bin" serve --bind 127.0.0.1:0 --data-dir "$dir" \
  --database-url "sqlite://$dir/gatehouse.db" --static-dir dist > "$dir/out" 2>&1 &
pids+=($!)
gh_pid=$!
for _ in $(seq 1 100); do grep -q listening "$dir/out" && break; sleep 0.2; done
url=$(sed -n 's/^Gatehouse listening on //p' "$dir/out")

jar="$dir/cookies"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
me=$(curl -sf -c "$jar" -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' "$url/api/v1/auth/login")
csrf=$(echo "$me" | json "['csrf_token']")
uid=$(echo "$me" | json "['user']['id']")
api() { curl -sf -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" "$@"; }
api -d '{"id":"1234567890123456","name":"Local","environment":"production"}' "$url/api/v1/accounts" >/dev/null
api -d "{\"id\":\"$CLOUD_ACCOUNT\",\"name\":\"Cloud\",\"environment\":\"production\",\"provider\":\"$provider\"}" "$url/api/v1/accounts" >/dev/null
if [ "$mode" = aws ]; then
  # The owner's bootstrap inside moto's no-auth window, then the setup kit through boto3.
  boto() { e2e/aws/.venv/bin/python e2e/aws/boto_client.py "$@" --endpoint "$cloud"; }
  keys=$(boto bootstrap)
  ak=$(echo "$keys" | json "['ak']"); sk=$(echo "$keys" | json "['sk']")
  api "$url/api/v1/accounts/$CLOUD_ACCOUNT/setup-kit" > "$dir/kit.json"
  python3 - "$dir/kit.json" "$cloud" "$ak" "$sk" <<'PY'
import json, subprocess, sys
kit, cloud, ak, sk = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
for s in kit["steps"]:
    out = subprocess.run(["e2e/aws/.venv/bin/python", "e2e/aws/boto_client.py", "call", s["product"], s["action"],
        "--params", json.dumps(dict(s["parameters"])), "--endpoint", cloud, f"--ak={ak}", f"--sk={sk}"],
        capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["ok"], out.stdout
PY
fi
if [ "$mode" = emulator ]; then
  # The owner's setup kit, through the official SDK, as in the tests.
  keys=$(curl -sf -H 'Content-Type: application/json' -d "{\"account_id\":\"$CLOUD_ACCOUNT\"}" "$cloud/_emulator/accounts")
  ak=$(echo "$keys" | json "['access_key_id']"); sk=$(echo "$keys" | json "['access_key_secret']")
  api "$url/api/v1/accounts/$CLOUD_ACCOUNT/setup-kit" > "$dir/kit.json"
  python3 - "$dir/kit.json" "$cloud" "$ak" "$sk" <<'PY'
import json, subprocess, sys
kit, cloud, ak, sk = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
for s in kit["steps"]:
    out = subprocess.run(["e2e/sdk/.venv/bin/python", "e2e/alibaba/sdk_client.py", s["product"], s["action"],
        "--params", json.dumps(dict(s["parameters"])), "--endpoint", cloud.split("//")[1], f"--ak={ak}", f"--sk={sk}"],
        capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["ok"], out.stdout
PY
fi
ps=$(api -d '{"name":"Bench","system_policies":["AliyunECSReadOnlyAccess","arn:aws:iam::aws:policy/ReadOnlyAccess"]}' "$url/api/v1/permission-sets" | json "['id']")
for acct in 1234567890123456 $CLOUD_ACCOUNT; do
  api -d "{\"principal_type\":\"user\",\"principal_id\":\"$uid\",\"account_id\":\"$acct\",\"permission_set_id\":\"$ps\"}" "$url/api/v1/assignments" >/dev/null
done
api -d '{}' "$url/api/v1/permission-sets/$ps/provision" | grep -q '"failed"' && { echo "provisioning failed" >&2; exit 1; }
cookie="gatehouse_session=$(awk '$6=="gatehouse_session" {print $7}' "$jar")"
cpu() { awk '{print $14 + $15}' "/proc/$gh_pid/stat"; }
hz=$(getconf CLK_TCK)
for round in 1 2 3; do
  for acct in 1234567890123456 $CLOUD_ACCOUNT; do
    label=local; [ "$acct" = "$CLOUD_ACCOUNT" ] && label="$provider ($mode)"
    body="{\"account_id\":\"$acct\",\"permission_set_id\":\"$ps\"}"
    api -d "$body" "$url/api/v1/portal/credentials" >/dev/null
    before=$(cpu)
    out=$(WRK_BODY="$body" WRK_COOKIE="$cookie" WRK_CSRF="$csrf" \
      wrk -t2 -c16 -d10s --latency -s scripts/bench/issue.lua "$url/api/v1/portal/credentials")
    after=$(cpu)
    reqs=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    total=$(echo "$out" | awk '/requests in/ {print $1}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    ms=$(python3 -c "print(f'{($after-$before)/$hz*1000/max($total,1):.3f}')")
    echo "round $round  $label: $reqs issues/s, p99 $p99, server CPU $ms ms/issue, non-2xx ${non2xx:-0}"
  done
done
