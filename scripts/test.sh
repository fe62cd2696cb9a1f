#!/usr/bin/env bash
# The README's test command: install what the tests need, then run lint, types, layer contracts
# and the whole pytest suite (unit, property, real-Prometheus and real-kube end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet -e ".[test]"

# Real servers the tests run against (installed from Debian's packages when missing).
bash scripts/install-test-servers.sh

python3 -m ruff check .
python3 -m mypy packing scheduler simulator cli
lint-imports

python3 -m pytest "$@"
