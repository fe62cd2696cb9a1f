"""The image the manifests run: every path the Dockerfile copies exists, and the tag it documents
is the one the manifests reference (no container engine here, so the build itself is not run)."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO


def _copy_sources(dockerfile: str) -> list[str]:
    sources: list[str] = []
    for line in dockerfile.splitlines():
        parts = line.split()
        # COPY --from=<stage> copies out of an earlier build stage, not from the build context.
        if parts and parts[0] == "COPY" and not any(p.startswith("--from=") for p in parts):
            sources.extend(p for p in parts[1:-1] if not p.startswith("--"))
    return sources


def test_every_copied_path_exists() -> None:
    sources = _copy_sources((REPO / "Dockerfile").read_text())
    assert {"pyproject.toml", "constraints.txt", "packing", "scheduler", "simulator", "cli"} <= set(
        sources
    )
    missing = [s for s in sources if not (REPO / s).exists()]
    assert missing == []


def test_image_tag_matches_the_manifests() -> None:
    tag = re.search(r"docker build -t (\S+) \.", (REPO / "Dockerfile").read_text())
    assert tag is not None
    images: set[str] = set()
    for name in ("tessera.yaml", "tessera-extender-only.yaml"):
        for doc in yaml.safe_load_all((REPO / "manifests" / name).read_text()):
            spec = (doc or {}).get("spec", {}).get("template", {}).get("spec", {})
            images.update(c["image"] for c in spec.get("containers", []))
    # Tessera's own containers run the image the Dockerfile documents; the second scheduler's
    # kube-scheduler container is the upstream image.
    assert images - {tag.group(1)} == {"registry.k8s.io/kube-scheduler:v1.37.2"}
    assert tag.group(1) in images


def test_entrypoint_is_the_console_script() -> None:
    text = (REPO / "Dockerfile").read_text()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'ENTRYPOINT ["tessera"]' in text
    assert re.search(r'^tessera = "cli\.main:app"$', pyproject, re.M)


def test_copy_parser_reads_flags_and_destination() -> None:
    # Checks the helper itself: the destination (last word) and flags are not sources.
    assert _copy_sources("COPY --chown=1:1 a b ./\nRUN x") == ["a", "b"]
    assert _copy_sources("COPY --from=sbom /sbom.cdx.json ./\nCOPY c ./") == ["c"]
