#!/usr/bin/env bash
# Installs what building and running Gatehouse needs on Debian 12 with Rust from rustup:
# the C libraries the SAML library links, the wasm32 target, wasm-bindgen and wasm-opt.
# What only the tests need is in install-test.sh. Idempotent: each step is skipped when what
# it installs is already there.
#
#   install.sh            everything below
#   install.sh system     the Debian packages and the wasm32 target (what building the
#                         server needs)
#   install.sh spa-tools  wasm-bindgen and wasm-opt (what building the SPA adds)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
part="${1:-all}"
case "$part" in all|system|spa-tools) ;; *) echo "usage: install.sh [system|spa-tools]" >&2; exit 2 ;; esac

if [ "$part" != spa-tools ]; then
# libxmlsec1-dev/clang/pkg-config: samael (SAML) links xmlsec and generates bindings with
# bindgen; brotli pre-compresses the SPA; node/npm run binaryen's wasm-opt.
apt_install libxmlsec1-dev libclang-dev clang pkg-config brotli nodejs npm

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
fi
[ "$part" = system ] && exit 0

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly. Not --locked:
# its own lockfile pins a crate version the registry no longer serves. Without its fat LTO
# it compiles in about half the time, and runs no slower that anyone would notice.
WBG_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WBG_VERSION"; then
  say "cargo install wasm-bindgen-cli@$WBG_VERSION"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install "wasm-bindgen-cli@$WBG_VERSION"
fi

# binaryen's wasm-opt from npm (Debian's binaryen 108 produces wasm that loads and then
# leaves the page blank).
if [ ! -x frontend/tools/node_modules/.bin/wasm-opt ] \
   || [ frontend/tools/package-lock.json -nt frontend/tools/node_modules/.package-lock.json ]; then
  say "npm ci (frontend/tools: wasm-opt)"
  (cd frontend/tools && npm ci --no-audit --no-fund --loglevel=error)
fi
