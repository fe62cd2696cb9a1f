#!/usr/bin/env bash
# Servers the test suite runs for real: Prometheus and headless Chromium (Debian packages; Chromium
# opens the simulator report and screenshots it). The Kubernetes binaries for
# tests/e2e are built from Go modules by tests/e2e/cluster/build.sh (cached per version).
set -euo pipefail
if ! command -v prometheus >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # --no-install-recommends: only the server binary is needed; no service is started here.
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
prometheus --version 2>&1 | head -1
chromium --version 2>/dev/null | head -1
