#!/usr/bin/env bash
# Installs what the test suite needs beyond install.sh: the browser, the IdPs, the official
# cloud SDKs and the SMTP server the tests drive. Idempotent, like install.sh.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/install.sh

# chromium for the browser journeys, xmlsec1 for pysaml2's signatures, psql for the
# journeys' throwaway PostgreSQL databases, python3-venv for the SDKs and IdPs below.
apt_install chromium xmlsec1 postgresql-client python3-venv

# cargo-deny, which test.sh runs over the dependencies (deny.toml), built from its crates.io
# source at a pinned version: about 5 minutes cold on 2 cores, once per machine.
DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; then
  say "cargo install cargo-deny@$DENY_VERSION"
  cargo install --locked "cargo-deny@$DENY_VERSION"
fi

# npm: playwright-core (drives Debian's chromium), oidc-provider, otpauth.
if [ ! -d e2e/node_modules/playwright-core ] \
   || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  say "npm ci (e2e)"
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

# Python virtual environments, each from its requirements.txt:
#   e2e/sdk   the official Alibaba Cloud SDKs and boto3 (STS compatibility)
#   e2e/saml  pysaml2 (signing with Debian's xmlsec1) and lxml: the SAML IdP
#   e2e/smtp  aiosmtpd: the SMTP server notification e-mail is delivered to
#   e2e/aws   moto's server (IAM, STS) and boto3: the aws provider's tests
for dir in e2e/sdk e2e/saml e2e/smtp e2e/aws; do
  venv="$dir/.venv"
  if [ ! -x "$venv/bin/python" ] || [ "$dir/requirements.txt" -nt "$venv/.requirements-installed" ]; then
    say "pip install -r $dir/requirements.txt (into $venv)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$dir/requirements.txt"
    touch "$venv/.requirements-installed"
  fi
done
