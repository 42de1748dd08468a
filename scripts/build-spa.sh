#!/usr/bin/env bash
# Builds the Leptos SPA into dist/ with Trunk, fully offline.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
trunk build --release
# Pre-compress so the server can send .br/.gz files as they are.
find dist -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' \) | while read -r f; do
  gzip -9 -k -f "$f"
  if command -v brotli >/dev/null; then brotli -f -q 11 -k "$f"; fi
done
