#!/usr/bin/env bash
# Build the digital-twin binaries into per-version caches outside the repository:
#   vc-scheduler, vc-controller-manager  <- the vendored Volcano source tarball
#       (${TESSERA_VENDOR_DIR:-<repo>/../shared/vendor}/volcano/volcano-src-*.tar.gz)
#       into ${XDG_CACHE_HOME:-$HOME/.cache}/tessera/volcano-<commit>/
#   kwok                                 <- sigs.k8s.io/kwok@<version> from the Go module proxy
#       into ${XDG_CACHE_HOME:-$HOME/.cache}/tessera/kwok-<version>/
# A complete build whose key (tarball/version + this script) matches is reused ("cached").
# Env: TESSERA_GO_PARALLEL (go build -p, default 2), TESSERA_BUILD_NICE (default 10).
# Prints the two binary directories (volcano, then kwok) as the last lines of stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
command -v go >/dev/null || { echo "error: go toolchain not found on PATH" >&2; exit 3; }

kwok_version=v0.8.0
vendor="${TESSERA_VENDOR_DIR:-$repo/../shared/vendor}"
tarball=$(ls "$vendor"/volcano/volcano-src-*.tar.gz 2>/dev/null | head -1 || true)
[ -n "$tarball" ] || { echo "error: no Volcano source tarball under $vendor/volcano/ (set TESSERA_VENDOR_DIR)" >&2; exit 3; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tessera"
par="${TESSERA_GO_PARALLEL:-2}"
nice_n="${TESSERA_BUILD_NICE:-10}"
script_hash=$(sha256sum "$0" | cut -c1-12)

# --- Volcano ---------------------------------------------------------------------------------
commit=$(basename "$tarball" .tar.gz); commit=${commit#volcano-src-}
vkey=$( (sha256sum "$tarball"; echo "$script_hash") | sha256sum | cut -c1-12)
vout="$cache/volcano-$commit"
if [ -f "$vout/.built-$vkey" ] && [ -x "$vout/vc-scheduler" ] && [ -x "$vout/vc-controller-manager" ]; then
  echo "cached: volcano $commit in $vout" >&2
else
  mkdir -p "$vout"
  src="$vout/src"
  rm -rf "$src" && mkdir -p "$src"
  tar -xzf "$tarball" -C "$src"
  start=$(date +%s)
  echo "building vc-scheduler + vc-controller-manager ($commit, go build -p $par) into $vout ..." >&2
  for pair in vc-scheduler:./cmd/scheduler vc-controller-manager:./cmd/controller-manager; do
    bin=${pair%%:*}; pkg=${pair#*:}
    (cd "$src" && nice -n "$nice_n" env CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
      -p "$par" -ldflags "-s -w" -o "$vout/$bin.tmp" "$pkg")
    mv "$vout/$bin.tmp" "$vout/$bin"
  done
  # Keep what the harness reads at run time (CRDs, the chart's scheduler configuration).
  rm -rf "$vout/config" && mkdir -p "$vout/config"
  cp -r "$src/config/crd" "$vout/config/crd"
  conf=$(find "$src" -path '*chart/volcano/config/volcano-scheduler.conf' | head -1)
  [ -n "$conf" ] || { echo "error: volcano-scheduler.conf not found in the tarball" >&2; exit 3; }
  cp "$conf" "$vout/config/volcano-scheduler.conf"
  rm -rf "$src"
  rm -f "$vout"/.built-*
  touch "$vout/.built-$vkey"
  echo "volcano build took $(( $(date +%s) - start ))s" >&2
fi

# --- KWOK ------------------------------------------------------------------------------------
kkey=$(echo "$kwok_version $script_hash" | sha256sum | cut -c1-12)
kout="$cache/kwok-$kwok_version"
if [ -f "$kout/.built-$kkey" ] && [ -x "$kout/kwok" ]; then
  echo "cached: kwok $kwok_version in $kout" >&2
else
  mkdir -p "$kout"
  start=$(date +%s)
  echo "building kwok $kwok_version (go install -p $par) into $kout ..." >&2
  rm -f "$kout/kwok"
  nice -n "$nice_n" env CGO_ENABLED=0 GOBIN="$kout" GOFLAGS=-buildvcs=false \
    go install -trimpath -p "$par" -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$kwok_version"
  rm -f "$kout"/.built-*
  touch "$kout/.built-$kkey"
  echo "kwok build took $(( $(date +%s) - start ))s" >&2
fi
echo "$vout"
echo "$kout"
