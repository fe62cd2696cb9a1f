#!/usr/bin/env bash
# Fetch the upstream CustomResourceDefinitions the chart's optional objects need (Prometheus
# Operator: ServiceMonitor, PodMonitor, PrometheusRule; cert-manager: Certificate) from the Go
# module proxy, where they ship inside the projects' source modules, into a cache outside the
# repository: ${XDG_CACHE_HOME:-$HOME/.cache}/tessera/crds-<key>/. Each module's hash is pinned
# below, so a changed download fails. A complete cache is reused (prints "cached").
# Prints the CRD directory as the last line of stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

command -v go >/dev/null || { echo "error: go toolchain not found on PATH" >&2; exit 3; }

# module version go.sum-hash file...
modules=(
  "github.com/prometheus-operator/prometheus-operator v0.85.0 h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=
   example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
   example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml
   example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
  "github.com/cert-manager/cert-manager v1.21.2 h1:UWgoYM+KLNtRlqmoWOKjKBOBUPVHeepQ6/ac3ERJW68=
   deploy/crds/cert-manager.io_certificates.yaml"
)
key=$(sha256sum "$here/fetch.sh" | cut -c1-12)
out="${XDG_CACHE_HOME:-$HOME/.cache}/tessera/crds-${key}"
if [ -f "$out/.complete" ]; then
  echo "cached: CRDs in $out" >&2
  echo "$out"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for entry in "${modules[@]}"; do
  read -r -d '' mod ver sum files <<<"$entry" || true
  # Outside any module, so only this module is fetched (no build list).
  json=$(cd "$work" && go mod download -json "$mod@$ver")
  got=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p')
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ "$got" = "$sum" ] || { echo "error: $mod@$ver hash $got, pinned $sum" >&2; exit 3; }
  for f in $files; do cp "$dir/$f" "$out/"; done
  echo "fetched $mod@$ver CRDs" >&2
done
touch "$out/.complete"
echo "$out"
