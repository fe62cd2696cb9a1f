"""Catalogue: all seven models, the (model, profile) keying, name mapping, bad names."""

from __future__ import annotations

import pytest

from packing.catalogue import MODELS, get_model
from packing.errors import PackingError, UnknownGpuModelError, UnknownProfileError


def test_all_seven_models_present_and_inferred_marked() -> None:
    assert set(MODELS) == {"A100-40GB", "A100-80GB", "A30-24GB", "H100-80GB", "H100-94GB",
                           "H200-141GB", "B200"}
    # geometry read from hardware (H100) or vendor tables (A100, A30) vs inferred from H100
    assert {k for k, m in MODELS.items() if m.inferred} == {"H100-94GB", "H200-141GB", "B200"}


@pytest.mark.parametrize(
    ("model", "profile", "memory_slices", "compute", "max_count", "placements", "id_"),
    [
        # The 1g.10gb clash: one memory slice on the 80GB parts, two on A100-40GB.
        ("H100-80GB", "1g.10gb", 1, 1, 7, (0, 1, 2, 3, 4, 5, 6), 19),
        ("A100-80GB", "1g.10gb", 1, 1, 7, (0, 1, 2, 3, 4, 5, 6), 19),
        ("A100-40GB", "1g.10gb", 2, 1, 4, (0, 2, 4, 6), 15),
        ("H100-80GB", "1g.20gb", 2, 1, 4, (0, 2, 4, 6), 15),
        ("H100-80GB", "3g.40gb", 4, 3, 2, (0, 4), 9),
        ("H100-80GB", "7g.80gb", 8, 7, 1, (0,), 0),
        ("A30-24GB", "2g.12gb+me", 2, 2, 1, (0, 2), 6),
        ("A30-24GB", "1g.6gb+me", 1, 1, 1, (0, 1, 2, 3), 21),
        ("B200", "3g.90gb", 4, 3, 2, (0, 4), 9),
        ("H200-141GB", "7g.141gb", 8, 7, 1, (0,), 0),
    ],
)
def test_profile_geometry_table(model: str, profile: str, memory_slices: int, compute: int,
                                max_count: int, placements: tuple[int, ...], id_: int) -> None:
    p = get_model(model).profile(profile)
    assert (p.memory_slices, p.compute_slices, p.max_count, p.placements, p.id) == (
        memory_slices, compute, max_count, placements, id_)


def test_every_placement_fits_inside_the_gpu() -> None:
    for m in MODELS.values():
        for p in m.profiles:
            assert max(p.placements) + p.memory_slices <= m.memory_slices, (m.key, p.name)
            assert p.compute_slices <= m.compute_slices


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("H100-80GB", "H100-80GB"),
        ("NVIDIA H100 80GB HBM3", "H100-80GB"),  # NVML name (fixture)
        ("NVIDIA-H100-80GB-HBM3", "H100-80GB"),  # GFD gpu.product label
        ("NVIDIA A100-SXM4-40GB", "A100-40GB"),
        ("A100-SXM4-40GB-MIG-1g.5gb", "A100-40GB"),  # GFD single-strategy product
        ("NVIDIA-A100-SXM4-80GB", "A100-80GB"),
        ("NVIDIA A30", "A30-24GB"),
        ("NVIDIA H100 NVL", "H100-94GB"),
        ("NVIDIA H200", "H200-141GB"),
        ("NVIDIA B200", "B200"),
        ("  h100-80gb ", "H100-80GB"),
    ],
)
def test_name_mapping(name: str, key: str) -> None:
    assert get_model(name).key == key


@pytest.mark.parametrize("bad", ["", "NVIDIA V100", "H100", "T4", 7, None])
def test_unknown_model_names_value_and_alternatives(bad: object) -> None:
    with pytest.raises(UnknownGpuModelError) as err:
        get_model(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(err.value) and "H100-80GB" in str(err.value)
    assert isinstance(err.value, PackingError) and isinstance(err.value, ValueError)


def test_unknown_profile_names_value_and_alternatives() -> None:
    with pytest.raises(UnknownProfileError) as err:
        get_model("A100-40GB").profile("1g.20gb")  # an H100 name, not an A100-40GB one
    assert "'1g.20gb'" in str(err.value) and "1g.5gb" in str(err.value)


def test_profile_name_variants() -> None:
    m = get_model("H100-80GB")
    assert m.profile("MIG 3g.40gb").name == "3g.40gb"  # NVML prefix
    assert m.profile("nvidia.com/mig-1g.10gb.me").name == "1g.10gb+me"  # device-plugin resource
