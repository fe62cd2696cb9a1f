"""Pod JSON -> PodRequest: resource names, products, gangs, bad input (one-line errors)."""

from __future__ import annotations

import pytest

from scheduler.state.errors import PodParseError
from scheduler.state.pods import parse_pod
from tests.builders import pod_json

REQUEST_CASES = [
    # (requests, expected (kind, count, profile, dynamic, milli, memory_mib))
    ({"nvidia.com/gpu": "2"}, ("whole", 2, None, False, 0, 0)),
    ({"nvidia.com/mig-3g.40gb": 1}, ("mig", 1, "3g.40gb", False, 0, 0)),
    ({"nvidia.com/mig-1g.10gb.me": 1}, ("mig", 1, "1g.10gb+me", False, 0, 0)),  # .me -> +me
    ({"tessera.io/mig-2g.20gb": 2}, ("mig", 2, "2g.20gb", True, 0, 0)),
    ({"tessera.io/gpu-milli": 250, "tessera.io/gpu-memory-mib": "8192"},
     ("milli", 1, None, False, 250, 8192)),
    ({"tessera.io/gpu-milli": 1000}, ("whole", 1, None, False, 0, 0)),  # 1000 milli = 1 GPU
]  # fmt: skip


@pytest.mark.parametrize(("requests", "want"), REQUEST_CASES)
def test_gpu_requests(requests, want) -> None:
    g = parse_pod(pod_json("p", requests)).gpu
    assert g is not None
    assert (g.kind, g.count, g.profile, g.dynamic, g.milli, g.memory_mib) == want


def test_containers_sum_and_init_containers_take_the_max() -> None:
    # containers: 1 + 2 = 3 GPUs; init container asks 2 -> max(3, 2) = 3; cpu 500m + 1 = 1500m.
    p = pod_json("p")
    p["spec"]["containers"] = [
        {"name": "a", "resources": {"requests": {"nvidia.com/gpu": 1, "cpu": "500m"}}},
        {"name": "b", "resources": {"limits": {"nvidia.com/gpu": 2, "cpu": "1"}}},
    ]
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"limits": {"nvidia.com/gpu": 2}}}]
    req = parse_pod(p)
    assert req.gpu is not None and req.gpu.count == 3
    assert req.cpu_milli == 1500


def test_products_from_selector_and_affinity() -> None:
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In",
                                   "values": ["NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB"]}]},
            {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In",
                                   "values": ["NVIDIA-H200"]}]},
        ]}}}  # fmt: skip
    p = parse_pod(pod_json("p", {"nvidia.com/gpu": 1}, affinity=aff))
    assert p.allowed_products == {"NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", "NVIDIA-H200"}
    sel = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    both = parse_pod(pod_json("p", {"nvidia.com/gpu": 1}, affinity=aff, node_selector=sel))
    assert both.allowed_products == {"NVIDIA-H100-80GB-HBM3"}  # selector AND affinity
    # A second term without a product constraint leaves the pod unconstrained (terms are ORed).
    aff2 = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [*aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                              ["nodeSelectorTerms"], {"matchExpressions": []}]}}}  # fmt: skip
    assert parse_pod(pod_json("p", {"nvidia.com/gpu": 1}, affinity=aff2)).allowed_products is None


@pytest.mark.parametrize(
    ("labels", "annotations", "gang", "min_member"),
    [
        ({"scheduling.x-k8s.io/pod-group": "g"}, {}, "default/g", 1),  # no count known: 1
        ({}, {"scheduling.k8s.io/group-name": "v"}, "default/v", 1),
        ({"tessera.io/gang": "t"}, {"tessera.io/gang-min-member": "4"}, "default/t", 4),
    ],
)
def test_gang_membership(labels, annotations, gang, min_member) -> None:
    p = parse_pod(pod_json("p", {"nvidia.com/gpu": 1}, labels=labels, annotations=annotations))
    assert p.gang is not None and p.gang.name == gang
    assert p.gang.min_member == min_member


def test_podgroup_min_member_wins() -> None:
    p = pod_json("p", {"nvidia.com/gpu": 1}, labels={"scheduling.x-k8s.io/pod-group": "g"},
                 annotations={"tessera.io/gang-min-member": "2"})  # fmt: skip
    assert parse_pod(p, {"default/g": 8}).gang.min_member == 8  # type: ignore[union-attr]


BAD = [
    ({"nvidia.com/gpu": 1, "tessera.io/gpu-milli": 100}, "more than one kind of GPU"),
    ({"tessera.io/gpu-milli": 1500}, "at most 1000"),
    ({"tessera.io/gpu-memory-mib": 100}, "needs tessera.io/gpu-milli"),
    ({"nvidia.com/gpu": "1.5"}, "whole number"),
    ({"nvidia.com/gpu": "lots"}, "not a Kubernetes quantity"),
]


@pytest.mark.parametrize(("requests", "msg"), BAD)
def test_bad_requests_are_one_line_errors(requests, msg) -> None:
    with pytest.raises(PodParseError, match=msg) as info:
        parse_pod(pod_json("p", requests))
    assert "\n" not in str(info.value)


def test_malformed_pods() -> None:
    with pytest.raises(PodParseError, match="metadata.name"):
        parse_pod({"metadata": {}})
    with pytest.raises(PodParseError, match="must be an object"):
        parse_pod([])  # type: ignore[arg-type]
    p = pod_json("p", {"nvidia.com/gpu": 1})
    p["spec"]["containers"] = "nope"
    with pytest.raises(PodParseError, match="spec.containers must be a list"):
        parse_pod(p)
    q = pod_json("p", annotations={"tessera.io/qos": "fast"})
    with pytest.raises(PodParseError, match="tessera.io/qos"):
        parse_pod(q)


def test_pod_without_gpu() -> None:
    assert parse_pod(pod_json("p", {"cpu": "1"})).gpu is None
