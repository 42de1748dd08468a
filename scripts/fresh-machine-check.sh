#!/usr/bin/env bash
# Measures the README's first command as a newcomer meets it: a fresh clone of this
# repository's HEAD, an empty CARGO_HOME (no crates downloaded, no tools installed: cargo's
# registry and `cargo install`ed wasm-bindgen live there; rustup's toolchain does not), an
# empty npm cache and an empty target directory. The Debian packages and the wasm32 target
# are machine-wide and stay as they are (apt and rustup are the first command's first
# steps; on a machine without them, add their download time).
#
# Prints the time from the command's start to "Gatehouse listening", then runs it again
# on the same directories to show the time when nothing changed, and stops the server.
#   [REV=<commit>] scripts/fresh-machine-check.sh [WORK_DIR]
# (default: HEAD, in a new directory under /tmp).
set -euo pipefail
source "$(dirname "$0")/env.sh"
work="${1:-$(mktemp -d /tmp/gatehouse-fresh-XXXXXX)}"
mkdir -p "$work"
git clone -q "$ROOT" "$work/clone"
git -C "$work/clone" checkout -q "${REV:-HEAD}"

# Tools `cargo install`ed into ~/.cargo/bin (beside rustup's cargo and rustc) would be found
# on PATH and not built: they are put aside while the command runs, and put back after.
aside="$work/tools-aside"
mkdir -p "$aside"
for t in wasm-bindgen wasm-bindgen-test-runner wasm2es6js; do
  [ -e "$HOME/.cargo/bin/$t" ] && mv "$HOME/.cargo/bin/$t" "$aside/"
done
trap 'mv "$aside"/* "$HOME/.cargo/bin/" 2>/dev/null || true' EXIT
export CARGO_HOME="$work/cargo-home" CARGO_TARGET_DIR="$work/target" npm_config_cache="$work/npm-cache"
mkdir -p "$CARGO_HOME"
export PATH="$CARGO_HOME/bin:$PATH"
port=18099

# run LABEL: starts the first command, waits for "listening", prints the seconds it took.
run() {
  local label="$1" log="$work/$1.log" start pid
  start=$(date +%s)
  (cd "$work/clone" && exec ./scripts/run.sh --demo --bind "127.0.0.1:$port" --data-dir "$work/data-$label") >"$log" 2>&1 &
  pid=$!
  until grep -q "Gatehouse listening" "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -30 "$log" >&2
      echo "the first command stopped before listening ($label); log: $log" >&2
      exit 1
    fi
    sleep 1
  done
  local took=$(( $(date +%s) - start ))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-6s %4d s (%d min %02d s) to listening; load average now: %s\n' \
    "$label" "$took" $((took / 60)) $((took % 60)) "$(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clone: $(git -C "$work/clone" log --oneline -1)"
run cold
run warm
echo "work directory: $work (remove it when done: about $(du -sh "$work" | cut -f1))"
