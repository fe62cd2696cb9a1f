"""Real `nvidia-smi mig -lgip/-lgipp` text (shared fixtures, H100 80GB HBM3) vs the catalogue."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from packing.catalogue import MODELS, model_from_smi, parse_lgip, parse_lgipp
from packing.errors import PackingError


@pytest.fixture(scope="module")
def h100_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "nvml" / "h100-80gb-hbm3"


def test_parse_lgip_reads_every_row(h100_dir: Path) -> None:
    rows = parse_lgip((h100_dir / "nvidia-smi-mig-lgip.txt").read_text())
    assert [r.name for r in rows] == ["1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb",
                                      "4g.40gb", "7g.80gb"]
    seven = rows[-1]
    # 7g.80gb: ID 0, 1/1 instances, 79.25 GiB, SM 132, DEC 7, ENC 0 / CE 8, JPEG 7, OFA 1
    assert (seven.id, seven.total, seven.memory_gib, seven.sm, seven.decoders,
            seven.copy_engines, seven.jpeg, seven.ofa) == (0, 1, 79.25, 132, 7, 8, 7, 1)


def test_parse_lgipp_reads_starts_and_size(h100_dir: Path) -> None:
    rows = {r.id: r for r in parse_lgipp((h100_dir / "nvidia-smi-mig-lgipp.txt").read_text())}
    assert rows[15].starts == (0, 2, 4, 6) and rows[15].size == 2  # 1g.20gb takes 2 slices
    assert rows[5].starts == (0,) and rows[5].size == 4  # "Placement :" singular form
    assert rows[0].size == 8


def test_builtin_h100_equals_parsed_fixture(h100_dir: Path) -> None:
    built = MODELS["H100-80GB"]
    parsed = model_from_smi(
        "H100-80GB", (h100_dir / "nvidia-smi-mig-lgip.txt").read_text(),
        (h100_dir / "nvidia-smi-mig-lgipp.txt").read_text(),
        nvml_names=built.nvml_names, memory_mib=built.memory_mib,
    )
    assert (parsed.memory_slices, parsed.compute_slices) == (8, 7)
    assert len(parsed.profiles) == len(built.profiles)
    for got, want in zip(parsed.profiles, built.profiles, strict=True):
        # -lgip prints GiB to 2 decimals (20096 MiB = 19.625 GiB -> "19.62"): within 0.005 GiB
        assert abs(got.memory_mib - want.memory_mib) <= 0.005 * 1024, got.name
        assert dataclasses.replace(got, memory_mib=want.memory_mib) == want


@pytest.mark.parametrize("text", ["", "garbage\n", "+----+\n| GPU Name |\n"])
def test_parsers_reject_text_without_rows(text: str) -> None:
    with pytest.raises(PackingError, match="-lgip"):
        parse_lgip(text)
    with pytest.raises(PackingError, match="-lgipp"):
        parse_lgipp(text)


def test_missing_placement_line_is_an_error(h100_dir: Path) -> None:
    lgipp = "GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1\n"
    with pytest.raises(PackingError, match="no -lgipp placement line"):
        model_from_smi("X", (h100_dir / "nvidia-smi-mig-lgip.txt").read_text(), lgipp)
