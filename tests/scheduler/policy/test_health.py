"""GpuHealth filter: unhealthy GPUs are unresolvable, with reasons; missing data is healthy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.policy.framework import choose_placement, run_filters
from scheduler.policy.model import GpuHealth
from scheduler.policy.plugins.health import HealthFilter, HealthThresholds, gpu_health_reasons
from scheduler.policy.registry import default_profile
from scheduler.policy.status import Code
from tests.scheduler.policy.telemetry_builders import gpu, held, node, state, whole

TH = HealthThresholds()  # 87 C limit; XIDs 13, 31, 43, 45, 68, 109 are application-caused


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        (GpuHealth(), ()),
        (GpuHealth(temperature_c=None), ()),  # unknown temperature is not a fault
        (GpuHealth(xid_recent=(79,)), ("XID 79 within the health window",)),
        (GpuHealth(xid_recent=(13, 43)), ()),  # both application-caused: ignored
        (GpuHealth(xid_recent=(48, 13)), ("XID 48 within the health window",)),
        (GpuHealth(ecc_uncorrectable=2), ("2 uncorrectable ECC error(s)",)),
        (GpuHealth(remap_failure=True), ("row remap failure",)),
        (GpuHealth(temperature_c=86.9), ()),  # 86.9 < 87
        (GpuHealth(temperature_c=87.0), ("temperature 87 C >= limit 87 C",)),  # at the limit
        (GpuHealth(over_temperature=True), ("temperature ? C >= limit 87 C",)),
        (
            GpuHealth(xid_recent=(79,), remap_failure=True),
            ("XID 79 within the health window", "row remap failure"),
        ),
    ],
)
def test_gpu_health_reasons_table(health: GpuHealth, expected: tuple[str, ...]) -> None:
    assert gpu_health_reasons(gpu(0, health=health), TH) == expected


def test_node_whose_only_gpu_is_unhealthy_is_unresolvable_with_reason() -> None:
    sick = node("a", gpu(0, health=GpuHealth(xid_recent=(79,))))
    st_ = state(sick)
    status = HealthFilter().filter(st_, whole(), sick)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("GPU 0: XID 79 within the health window",)


def test_node_with_a_healthy_gpu_left_passes_and_the_sick_gpu_is_never_chosen() -> None:
    n = node(
        "a",
        gpu(0, health=GpuHealth(ecc_uncorrectable=1)),
        gpu(1),
        gpu(2, health=GpuHealth(xid_recent=(79,))),
        gpu(3, health=GpuHealth(temperature_c=95)),
    )
    st_ = state(n)
    assert HealthFilter().filter(st_, whole(), n).ok
    placement = choose_placement(st_, whole(), n)
    assert placement is not None and [g.index for g in placement.gpus] == [1]


def test_two_gpus_needed_but_one_healthy_is_unresolvable() -> None:
    # 2 GPUs, GPU 0 at 90 C (>= 87): one healthy GPU cannot hold a 2-GPU pod, ever.
    n = node("a", gpu(0, health=GpuHealth(temperature_c=90)), gpu(1))
    status = HealthFilter().filter(state(n), whole(2), n)
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert "GPU 0: temperature 90 C >= limit 87 C" in status.reasons


def test_healthy_gpu_busy_is_unschedulable_not_unresolvable() -> None:
    # GPU 1 is healthy but held by another pod: preemption could free it.
    n = node("a", gpu(0, health=GpuHealth(remap_failure=True)), gpu(1))
    st_ = state(n, allocations={"other": held("other", "a", 1)})
    status = HealthFilter().filter(st_, whole(), n)
    assert status.code is Code.UNSCHEDULABLE
    assert status.reasons[0] == "healthy GPUs are busy"


def test_pod_without_gpu_ignores_gpu_health() -> None:
    from scheduler.policy.model import PodRequest

    n = node("a", gpu(0, health=GpuHealth(xid_recent=(79,))))
    assert HealthFilter().filter(state(n), PodRequest(key="ns/c", uid="c", gpu=None), n).ok


def test_thresholds_are_settings() -> None:
    n = node("a", gpu(0, health=GpuHealth(temperature_c=80)))
    assert HealthFilter().filter(state(n), whole(), n).ok
    strict = HealthFilter(HealthThresholds(max_temperature_c=75))
    assert strict.filter(state(n), whole(), n).code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_default_profile_reports_health_reason_through_the_framework() -> None:
    n = node("a", gpu(0, health=GpuHealth(xid_recent=(79,))))
    result = run_filters(state(n), whole(), ["a"], default_profile())
    assert result["a"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert "GpuHealth: GPU 0: XID 79 within the health window" in result["a"].reasons


_health = st.builds(
    GpuHealth,
    xid_recent=st.lists(st.sampled_from([13, 31, 43, 48, 63, 74, 79, 92, 94, 95]), max_size=3).map(
        tuple
    ),
    ecc_uncorrectable=st.integers(0, 3),
    remap_failure=st.booleans(),
    temperature_c=st.one_of(st.none(), st.floats(20, 110)),
    over_temperature=st.booleans(),
)


@given(st.lists(_health, min_size=1, max_size=8), st.integers(1, 3))
def test_never_places_on_an_unhealthy_gpu(healths: list[GpuHealth], count: int) -> None:
    """Property: whenever the health filter passes, the chosen GPUs are all healthy."""
    n = node("a", *(gpu(i, health=h) for i, h in enumerate(healths)))
    st_ = state(n)
    pod = whole(count)
    if not HealthFilter().filter(st_, pod, n).ok:
        return
    placement = choose_placement(st_, pod, n)
    if placement is None:
        return
    for grant in placement.gpus:
        assert gpu_health_reasons(n.gpus[grant.index], TH) == ()


def test_unflagged_hot_gpu_the_placement_would_use_fails_the_node() -> None:
    # GPU 0 reads 90 C (>= 87) but nothing flagged it, so the capacity view may still hand it
    # out: the node passes exactly when the placement it would get avoids GPU 0.
    n = node("a", gpu(0, health=GpuHealth(temperature_c=90)), gpu(1))
    status = HealthFilter().filter(state(n), whole(), n)
    chosen = choose_placement(state(n), whole(), n)
    assert chosen is not None
    if any(g.index == 0 for g in chosen.gpus):
        assert status.code is Code.UNSCHEDULABLE
        assert status.reasons[0] == "placement would use a GPU not flagged unhealthy"
    else:
        assert status.ok
    # flagged (as telemetry does), the capacity view skips it and GPU 1 serves
    flagged = node("a", gpu(0, health=GpuHealth(temperature_c=90, over_temperature=True)), gpu(1))
    assert HealthFilter().filter(state(flagged), whole(), flagged).ok
    placement = choose_placement(state(flagged), whole(), flagged)
    assert placement is not None and [g.index for g in placement.gpus] == [1]
