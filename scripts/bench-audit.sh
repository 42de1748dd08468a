#!/usr/bin/env bash
# Audit at scale (BENCHMARKS.md, "Audit at scale"): EVENTS realistic chained events (default
# 10,000,000: 2,000 people over 90 days, `gatehouse audit generate`, seed 1) in a new SQLite
# database and a new PostgreSQL database; then every search shape and timeline, 200 runs
# each (scripts/bench/audit-shapes.py), against the release binary on loopback.
# With OLD_BIN (a binary built from an earlier commit), each engine's data is copied, the
# copy's audit schema put back as migration 0011 left it, and the same shapes are timed
# against the old binary on the same events.
# Usage: scripts/bench-audit.sh   Env: GATEHOUSE_BIN, OLD_BIN, EVENTS, RUNS (200),
#        OLD_RUNS (default RUNS; the old code takes seconds for some shapes),
#        ENGINES ("sqlite postgres"), PG_ADMIN (postgres://postgres@127.0.0.1:5432/postgres),
#        WORK (where the SQLite files go; default a new directory under /tmp),
#        REUSE=1 (time the databases an earlier run left in WORK, without generating).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
events="${EVENTS:-10000000}"; runs="${RUNS:-200}"; engines="${ENGINES:-sqlite postgres}"
old_runs="${OLD_RUNS:-$runs}"
pg_admin="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
bin="${GATEHOUSE_BIN:-$TARGET_DIR/release/gatehouse}"
[ -n "${GATEHOUSE_BIN:-}" ] || cargo build --release -p gatehouse
work="${WORK:-$(mktemp -d /tmp/bench-audit.XXXX)}"
mkdir -p "$work"
end_ms=$(( $(date +%s) * 1000 ))
echo "events: $events, load: $(cut -d' ' -f1-3 /proc/loadavg), work: $work"

db_url() { # engine name -> URL
  case "$1" in
    sqlite) echo "sqlite://$work/$2.db" ;;
    postgres) echo "${pg_admin%/*}/$2" ;;
  esac
}

# Serves $2 (a database URL) with binary $1 and times the shapes; prints the table and RSS.
time_shapes() {
  local b="$1" url="$2" n="$3" dir out pid
  dir=$(mktemp -d); out="$dir/out"
  GATEHOUSE_BOOTSTRAP_PASSWORD=benchmark-password GATEHOUSE_LOG=warn \
    "$b" serve --bind 127.0.0.1:0 --data-dir "$work" --database-url "$url" --static-dir dist > "$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do grep -q listening "$out" && break; sleep 0.2; done
  local base; base=$(sed -n 's/^Gatehouse listening on //p' "$out")
  curl -sf -c "$dir/jar" -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"benchmark-password"}' "$base/api/v1/auth/login" > /dev/null
  local cookie="gatehouse_session=$(awk '$6=="gatehouse_session" {print $7}' "$dir/jar")"
  python3 scripts/bench/audit-shapes.py "$base" "$cookie" "$n"
  echo "server RSS after: $(awk '/VmRSS/ {print $2/1024 " MB"}' /proc/$pid/status), peak $(awk '/VmHWM/ {print $2/1024 " MB"}' /proc/$pid/status)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

for engine in $engines; do
  new=$(db_url "$engine" gatehouse_bench_audit)
  old=$(db_url "$engine" gatehouse_bench_audit_old)
  if [ -z "${REUSE:-}" ]; then
    if [ "$engine" = postgres ]; then
      for d in gatehouse_bench_audit gatehouse_bench_audit_old; do
        psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $d" -c "CREATE DATABASE $d"
      done
    else
      rm -f "$work"/gatehouse_bench_audit*.db*
    fi
    echo "== $engine: generate"
    GATEHOUSE_LOG=warn "$bin" --data-dir "$work" --database-url "$new" audit generate \
      --events "$events" --seed 1 --end-ms "$end_ms"
    if [ -n "${OLD_BIN:-}" ]; then
      echo "== $engine: the same events under migration 0011's audit schema"
      if [ "$engine" = postgres ]; then
        psql -q "$pg_admin" -c "DROP DATABASE gatehouse_bench_audit_old" \
          -c "CREATE DATABASE gatehouse_bench_audit_old TEMPLATE gatehouse_bench_audit"
        psql -q "$old" -f scripts/bench/audit-schema-0011-postgres.sql
      else
        sqlite3 "${new#sqlite://}" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
        cp "${new#sqlite://}" "${old#sqlite://}"
        sqlite3 "${old#sqlite://}" < scripts/bench/audit-schema-0011-sqlite.sql
      fi
    fi
  fi
  echo "== $engine: new ($bin)"
  time_shapes "$bin" "$new" "$runs"
  if [ -n "${OLD_BIN:-}" ]; then
    echo "== $engine: old ($OLD_BIN)"
    time_shapes "$OLD_BIN" "$old" "$old_runs"
  fi
done
