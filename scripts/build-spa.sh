#!/usr/bin/env bash
# Builds the Leptos SPA into dist/, offline, without Trunk:
#   1. one `cargo build` of the three bundles' binaries for wasm32 (they share the library,
#      compiled once; their link-time optimisation runs in parallel);
#   2. per bundle, wasm-bindgen (the JS glue) and binaryen's wasm-opt -Oz, in parallel;
#   3. content-hashed file names, an index.html per bundle from frontend/index.html, and
#      .gz/.br copies that the server sends as they are.
# The everyday bundle lands in dist/, the directory and governance bundles in
# dist/<name>-app/, which the server sends for their pages (see shared/src/spa.rs).
# The new dist/ replaces the old one only when every step succeeded.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# Nothing to do when dist/ was built from the same inputs: a start with nothing changed
# takes seconds, not the half minute wasm-bindgen, wasm-opt and brotli take again.
stamp="$TARGET_DIR/spa-inputs.sha256"
inputs="$({
  find frontend shared -type f ! -path '*/node_modules/*' -print0 | sort -z | xargs -0 sha256sum
  sha256sum Cargo.toml Cargo.lock scripts/build-spa.sh
  rustc -V; wasm-bindgen --version 2>/dev/null || true
} | sha256sum | cut -d' ' -f1)"
if [ -f dist/index.html ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  say "the SPA in dist/ is up to date"
  exit 0
fi

# bin name : directory under dist/ ("." for the root)
BUNDLES=(gatehouse-frontend:. gatehouse-directory:directory-app gatehouse-governance:governance-app)

cargo build -p gatehouse-frontend --bins --target wasm32-unknown-unknown --profile wasm-release
WASM_DIR="$TARGET_DIR/wasm32-unknown-unknown/wasm-release"

stage="$(mktemp -d "$ROOT/.dist-XXXXXX")"
work="$(mktemp -d)"
trap 'rm -rf "$stage" "$work"' EXIT

# "<stem>-<16 hex of the content's SHA-256><suffix>", as Trunk named them
hashed() { printf '%s-%s%s' "$2" "$(sha256sum "$1" | cut -c1-16)" "$3"; }

css="$(hashed frontend/style.css style .css)"
cp frontend/style.css "$stage/$css"

bundle() {
  local bin="$1" dir="$2"
  mkdir -p "$work/$bin" "$stage/$dir"
  wasm-bindgen --target web --no-typescript --out-dir "$work/$bin" --out-name "$bin" "$WASM_DIR/$bin.wasm"
  wasm-opt -Oz "$work/$bin/${bin}_bg.wasm" -o "$work/$bin/opt.wasm"
  local js wasm prefix
  js="$(hashed "$work/$bin/$bin.js" "$bin" .js)"
  wasm="$(hashed "$work/$bin/opt.wasm" "$bin" _bg.wasm)"
  cp "$work/$bin/$bin.js" "$stage/$dir/$js"
  cp "$work/$bin/opt.wasm" "$stage/$dir/$wasm"
  prefix="/${dir#.}"; prefix="${prefix%/}/"
  local assets
  assets="<link rel=\"stylesheet\" href=\"/$css\" />
    <link rel=\"modulepreload\" href=\"$prefix$js\" />
    <link rel=\"preload\" href=\"$prefix$wasm\" as=\"fetch\" type=\"application/wasm\" crossorigin />
    <script type=\"module\">import init from '$prefix$js'; init({ module_or_path: '$prefix$wasm' });</script>"
  ASSETS="$assets" awk '/<!-- assets -->/ { sub(/<!-- assets -->/, ENVIRON["ASSETS"]) } { print }' \
    frontend/index.html > "$stage/$dir/index.html"
  grep -q "$js" "$stage/$dir/index.html" || { echo "frontend/index.html has no <!-- assets --> marker" >&2; return 1; }
}

pids=()
for b in "${BUNDLES[@]}"; do
  bundle "${b%%:*}" "${b#*:}" & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

# Pre-compress so the server can send .br/.gz files as they are.
find "$stage" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' \) -print0 \
  | xargs -0 -P 2 -I{} sh -c 'gzip -9 -k -f "$1" && brotli -f -q 11 -k "$1"' _ {}

rm -rf dist
mv "$stage" dist
chmod 755 dist
mkdir -p "$TARGET_DIR"
echo "$inputs" > "$stamp"
du -sh dist/*.wasm dist/*-app/*.wasm | sed 's/^/built /'
