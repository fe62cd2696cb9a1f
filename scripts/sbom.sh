#!/usr/bin/env bash
# CycloneDX SBOM (JSON, spec 1.6) of exactly what a build installs: the pinned closure in
# constraints.txt, with tessera itself (from pyproject.toml) as the described application.
# Offline: cyclonedx-py reads the files, it does not query an index.
#   bash scripts/sbom.sh [OUT]     (default: dist/sbom.cdx.json)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/sbom.cdx.json}"
mkdir -p "$(dirname "$out")"
python3 -W ignore -m cyclonedx_py requirements --pyproject pyproject.toml --mc-type application \
  --of JSON --output-reproducible -o "$out" constraints.txt
echo "sbom: $out"
