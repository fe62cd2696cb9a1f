#!/usr/bin/env bash
# The README's test command: install what the tests need, then run lint, types, layer contracts
# and the whole pytest suite (unit, property, real-Prometheus and real-kube end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --upgrade pip
# constraints.txt pins the versions the suite was last run with (pyproject keeps lower bounds).
python3 -m pip install --quiet -c constraints.txt -e ".[test]"

# Real servers the tests run against (installed from Debian's packages when missing).
bash scripts/install-test-servers.sh

python3 -m ruff check .
python3 -m mypy packing scheduler simulator cli devcluster
lint-imports

# Real etcd + kube-apiserver + kube-scheduler for tests/e2e, built before pytest so a cold build
# (minutes) is not charged to the first test's timeout; cached per version, so later runs skip it.
# CI=true: no Go or a failed build fails here. Elsewhere the e2e tests skip with the reason.
# helm (tests/manifests: lint, template, schema, drift; tests/e2e: install/upgrade) likewise, and
# the Prometheus Operator and cert-manager CRDs the chart's optional objects are checked against.
if command -v go >/dev/null; then
  bash tests/e2e/cluster/build.sh >/dev/null || [ "${CI:-}" != "true" ]
  # The digital twin's real Volcano (vendored source beside the clone: ../shared/vendor/volcano/,
  # or TESSERA_VENDOR_DIR) and KWOK (Go module proxy); same cache rules.
  bash tests/e2e/cluster/build-twin.sh >/dev/null || [ "${CI:-}" != "true" ]
  bash tests/manifests/helmbin/build.sh >/dev/null || [ "${CI:-}" != "true" ]
  bash tests/e2e/crds/fetch.sh >/dev/null || [ "${CI:-}" != "true" ]
elif [ "${CI:-}" = "true" ]; then
  echo "error: CI=true but no Go toolchain to build the e2e Kubernetes binaries" >&2
  exit 1
fi

python3 -m pytest "$@"
