"""Node JSON -> Node: the agent annotation, the GFD fallback, bad annotations fall back."""

from __future__ import annotations

import json

import pytest

from scheduler.state.errors import NodeParseError
from scheduler.state.nodes import parse_node
from tests.builders import gpu_json, node_json


def test_annotation_gives_exact_gpus_and_instances() -> None:
    n, problem = parse_node(node_json("n", [gpu_json(0), gpu_json(1, mig=True, instances=[
        ("3g.40gb", 4, True), ("1g.10gb", 0, False)])]))  # fmt: skip
    assert problem == "" and n.source == "annotation"
    assert [g.index for g in n.gpus] == [0, 1]
    assert n.gpus[1].mig_enabled and n.gpus[1].instances[0] == ("3g.40gb", 4, True)
    assert n.cpu_milli == 64000 and n.memory_bytes == 512 * 2**30  # "64" cpu, "512Gi"
    assert n.updated_at is not None


def test_gfd_fallback_mixed_strategy() -> None:
    labels = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.memory": "81559",
              "nvidia.com/mig.strategy": "mixed"}  # fmt: skip
    alloc = {"nvidia.com/gpu": "2", "nvidia.com/mig-3g.40gb": "2", "nvidia.com/mig-1g.10gb": "0"}
    n, problem = parse_node(node_json("n", labels=labels, allocatable=alloc, annotate=False))
    assert problem == "" and n.source == "gfd"
    assert len(n.gpus) == 2 and n.gpus[0].memory_mib == 81559
    assert dict(n.mig_pool) == {"3g.40gb": 2}  # zero counts are dropped


def test_gfd_single_strategy_names_the_profile() -> None:
    labels = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb",
              "nvidia.com/mig.strategy": "single"}  # fmt: skip
    n, _ = parse_node(node_json("n", labels=labels, allocatable={"nvidia.com/gpu": "7"},
                                annotate=False))  # fmt: skip
    assert n.gpus == () and dict(n.mig_pool) == {"1g.5gb": 7}


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"version": 2, "gpus": []}), "unsupported version 2"),
        (json.dumps({"version": 1, "gpus": [{"index": 0}]}), "model must be"),
        (json.dumps({"version": 1, "gpus": [gpu_json(0), gpu_json(0)]}), "indices repeat"),
    ],
)
def test_bad_annotation_falls_back_with_reason(doc: str, why: str) -> None:
    obj = node_json("n", labels={"nvidia.com/gpu.product": "H100-80GB"},
                    allocatable={"nvidia.com/gpu": "1"}, annotate=False)  # fmt: skip
    obj["metadata"]["annotations"]["tessera.io/gpus"] = doc
    n, problem = parse_node(obj)
    assert why in problem and n.source == "gfd" and len(n.gpus) == 1


def test_node_without_name_is_an_error() -> None:
    with pytest.raises(NodeParseError, match="metadata.name"):
        parse_node({"metadata": {}})
