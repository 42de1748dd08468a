# Sourced by the other scripts: paths, and the helpers the install scripts share.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where cargo puts binaries: a shared CARGO_TARGET_DIR outside the clone is honoured.
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# `cargo install` puts tools in $CARGO_HOME/bin; rustup's cargo and rustc are in ~/.cargo/bin.
export PATH="$ROOT/frontend/tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install PKG…: installs the Debian packages that are not installed yet. A node/npm
# from elsewhere, or a python3 that can already make virtual environments, is accepted.
apt_install() {
  local missing=() p
  for p in "$@"; do
    case "$p" in
      nodejs|npm) command -v node >/dev/null && command -v npm >/dev/null && continue ;;
      python3-venv) python3 -c 'import ensurepip, venv' 2>/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
