"""Cluster fragmentation gauge: the stranded fraction of GPU capacity, by GPU kind."""

from __future__ import annotations

import pytest

from packing.catalogue import get_model
from packing.fragmentation import mig_fragmentation
from packing.mig import MigInstance
from scheduler.policy.cluster_fragmentation import cluster_fragmentation
from scheduler.policy.model import Allocation, ClusterState, GpuGrant, GpuRequest, Placement
from tests.builders import h100, node, pod


def _state() -> ClusterState:
    held = Allocation("d/x", "x", Placement("a", (GpuGrant(0, milli=300),)))
    nodes = {
        "a": node("a", h100(0), h100(1)),
        "m": node("m", h100(0, mig=True, instances=[("1g.10gb", 3, True)])),
    }
    return ClusterState(nodes, {"x": held})


def test_shares_without_known_pods_count_partly_used_gpus() -> None:
    # Workload "one whole GPU": GPU 0 has 700 milli free that no whole-GPU pod can use, GPU 1 is
    # idle (usable): 700 / (1000 x 2 GPUs) = 0.35.
    assert cluster_fragmentation(_state(), [])["shares"] == pytest.approx(0.35)


def test_shares_weighted_by_the_typical_pods() -> None:
    # Half the pods want 500 (GPU 0's 700 free serves them), half a whole GPU (it does not):
    # expected fragment = 0.5 x 0 + 0.5 x 700 = 350 -> 350 / 2000 = 0.175.
    pods = [pod(gpu=GpuRequest("milli", milli=500)), pod(gpu=GpuRequest("whole", 1))]
    assert cluster_fragmentation(_state(), pods)["shares"] == pytest.approx(0.175)


def test_mig_equals_packing_measure() -> None:
    want = mig_fragmentation(get_model("H100-80GB"), [MigInstance("1g.10gb", 3)]) / 1000
    assert cluster_fragmentation(_state(), [])["mig"] == pytest.approx(want)


def test_empty_cluster_is_zero() -> None:
    assert cluster_fragmentation(ClusterState({}), []) == {"mig": 0.0, "shares": 0.0}
