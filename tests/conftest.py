"""Shared test fixtures: where the repository and the read-only shared/ data live."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Speed targets live in benchmarks/, not in timed unit tests: Hypothesis' per-example deadline
# (200 ms) only measures how busy the machine is, so properties run without it.
settings.register_profile("tessera", deadline=None)
settings.load_profile("tessera")

REPO = Path(__file__).resolve().parents[1]
# shared/ sits beside the checkout (developer machines and CI alike).
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder not found beside the checkout: {SHARED}")
    return SHARED
