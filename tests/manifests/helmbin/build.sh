#!/usr/bin/env bash
# Build the helm CLI (helm.sh/helm/v3, pinned in go.mod as a Go tool) from the Go module proxy into
# a per-version cache outside the repository: ${XDG_CACHE_HOME:-$HOME/.cache}/tessera/helm-<version>/.
# A cached, complete build is reused (prints "cached"); otherwise it builds and prints the time.
# Env: TESSERA_GO_PARALLEL (go build -p, default 2), TESSERA_BUILD_NICE (default 10).
# Prints the path of the helm binary as the last line of stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

command -v go >/dev/null || { echo "error: go toolchain not found on PATH" >&2; exit 3; }

helm_version=$(awk '$1 == "helm.sh/helm/v3" && $2 ~ /^v/ {print $2; exit}' go.mod)
client_go=$(awk '$1 == "k8s.io/client-go" && $2 ~ /^v/ {print $2; exit}' go.mod)
[ -n "$helm_version" ] || { echo "error: helm.sh/helm/v3 version not found in go.mod" >&2; exit 3; }
# The cache key covers the module files and this script, so a version bump or flag change rebuilds.
key=$(cat go.mod go.sum build.sh | sha256sum | cut -c1-12)
out="${XDG_CACHE_HOME:-$HOME/.cache}/tessera/helm-${helm_version}"
stamp="$out/.built-$key"

if [ -f "$stamp" ] && [ -x "$out/helm" ]; then
  echo "cached: helm ${helm_version} in $out" >&2
  echo "$out/helm"
  exit 0
fi

mkdir -p "$out"
# As helm's Makefile does: the version string, and the Kubernetes version helm assumes offline
# (helm template / lint with no cluster) taken from the client-go it links (v0.N.x -> 1.N).
minor=$(echo "$client_go" | cut -d. -f2)
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version}"
ldflags="$ldflags -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags="$ldflags -X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1 -X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${minor}"
done
start=$(date +%s)
echo "building helm ${helm_version} (go build -p ${TESSERA_GO_PARALLEL:-2}) into $out ..." >&2
nice -n "${TESSERA_BUILD_NICE:-10}" env CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
  -p "${TESSERA_GO_PARALLEL:-2}" -ldflags "$ldflags" -o "$out/helm.tmp" helm.sh/helm/v3/cmd/helm
mv "$out/helm.tmp" "$out/helm"
rm -f "$out"/.built-*
touch "$stamp"
echo "build took $(( $(date +%s) - start ))s (helm ${helm_version})" >&2
echo "$out/helm"
