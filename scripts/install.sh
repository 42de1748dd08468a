#!/usr/bin/env bash
# Installs what building and testing Gatehouse needs on Debian 12 with Rust from rustup.
# Idempotent: each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: xmlsec/clang for the SAML library, chromium for the browser tests,
# node/npm for the browser-test driver and wasm-opt, postgresql client tools for the tests,
# python3-venv for the official cloud SDKs the STS-compatibility tests drive.
APT_PACKAGES=(libxmlsec1-dev libclang-dev clang pkg-config xmlsec1 chromium brotli nodejs npm postgresql-client python3-venv)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere than Debian; accept any working install.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
# likewise a python3 that can already make virtual environments.
if python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
read -r -a missing <<< "${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

TRUNK_VERSION=0.21.14
if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
  say "cargo install trunk@$TRUNK_VERSION (about 8 minutes the first time)"
  cargo install --locked "trunk@$TRUNK_VERSION"
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly. Not --locked:
# its own lockfile pins a crate version the registry no longer serves.
WBG_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WBG_VERSION"; then
  say "cargo install wasm-bindgen-cli@$WBG_VERSION"
  cargo install "wasm-bindgen-cli@$WBG_VERSION"
fi

# npm: playwright-core (drives Debian's chromium), otpauth, and binaryen's wasm-opt
# (Debian's binaryen 108 produces wasm that loads and then leaves the page blank).
if [ ! -x e2e/node_modules/.bin/wasm-opt ] || [ ! -d e2e/node_modules/playwright-core ] \
   || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  say "npm ci (e2e)"
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

# Python: the official Alibaba Cloud SDKs and boto3 for the STS-compatibility tests (e2e/sdk).
SDK_VENV=e2e/sdk/.venv
if [ ! -x "$SDK_VENV/bin/python" ] || [ e2e/sdk/requirements.txt -nt "$SDK_VENV/.requirements-installed" ]; then
  say "pip install -r e2e/sdk/requirements.txt (into $SDK_VENV)"
  python3 -m venv "$SDK_VENV"
  "$SDK_VENV/bin/pip" install --quiet --disable-pip-version-check -r e2e/sdk/requirements.txt
  touch "$SDK_VENV/.requirements-installed"
fi

# Python: pysaml2 (signing with Debian's xmlsec1) and lxml, the SAML IdP the tests run (e2e/saml).
SAML_VENV=e2e/saml/.venv
if [ ! -x "$SAML_VENV/bin/python" ] || [ e2e/saml/requirements.txt -nt "$SAML_VENV/.requirements-installed" ]; then
  say "pip install -r e2e/saml/requirements.txt (into $SAML_VENV)"
  python3 -m venv "$SAML_VENV"
  "$SAML_VENV/bin/pip" install --quiet --disable-pip-version-check -r e2e/saml/requirements.txt
  touch "$SAML_VENV/.requirements-installed"
fi

# Python: aiosmtpd, the real SMTP server the notification tests deliver e-mail to (e2e/smtp).
SMTP_VENV=e2e/smtp/.venv
if [ ! -x "$SMTP_VENV/bin/python" ] || [ e2e/smtp/requirements.txt -nt "$SMTP_VENV/.requirements-installed" ]; then
  say "pip install -r e2e/smtp/requirements.txt (into $SMTP_VENV)"
  python3 -m venv "$SMTP_VENV"
  "$SMTP_VENV/bin/pip" install --quiet --disable-pip-version-check -r e2e/smtp/requirements.txt
  touch "$SMTP_VENV/.requirements-installed"
fi
