"""The helm binary for the chart tests: built from the Go module proxy and cached by
tests/manifests/helmbin/build.sh (scripts/test.sh builds it before pytest). With CI=true a missing
Go toolchain or a failed build fails the tests; elsewhere they skip with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.manifests.chart import HelmUnavailable, helm_binary


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    try:
        return helm_binary()
    except HelmUnavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"helm: {exc} (CI=true: the chart tests must run)", pytrace=False)
        pytest.skip(f"helm: {exc}")
