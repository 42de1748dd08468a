#!/usr/bin/env bash
# Builds the Leptos SPA into dist/ with Trunk, fully offline: the everyday bundle into dist/,
# the directory and governance bundles into dist/<name>-app/, which the server sends for
# their pages (see shared/src/spa.rs). Trunk replaces its whole dist directory, so the
# everyday bundle is built first and the others inside it after.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
trunk build frontend/index.html --release --dist dist
for bundle in directory governance; do
  trunk build "frontend/$bundle.html" --release --dist "dist/$bundle-app" --public-url "/$bundle-app/"
done
# Pre-compress so the server can send .br/.gz files as they are.
find dist -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' \) | while read -r f; do
  gzip -9 -k -f "$f"
  if command -v brotli >/dev/null; then brotli -f -q 11 -k "$f"; fi
done
