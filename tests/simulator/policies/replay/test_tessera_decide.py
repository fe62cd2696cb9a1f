"""The tessera replay policy's decision path for pods the extender does not decide."""

from __future__ import annotations

from scheduler.policy.model import GpuRequest
from scheduler.policy.registry import default_profile
from simulator.cluster.state import SimCluster
from simulator.policies.replay.tessera_decide import place_pod
from simulator.workloads.model import NodeSpec
from tests.builders import pod

GIB = 1 << 30
GPU_NODE = NodeSpec("gpu-0", "H100-80GB", 8, 128_000, 1024 * GIB)
CPU_NODE = NodeSpec("cpu-0", "H100-80GB", 0, 192_000, 1536 * GIB)


def test_cpu_pod_takes_kube_schedulers_least_allocated_node_not_the_first_gpu_node() -> None:
    # 64 CPU, 320 GiB on an empty cluster, LeastAllocated = mean of (cap - want) * 100 // cap:
    #   gpu-0: cpu (128-64)*100//128 = 50, mem (1024-320)*100//1024 = 68 -> 59
    #   cpu-0: cpu (192-64)*100//192 = 66, mem (1536-320)*100//1536 = 79 -> 72  (wins)
    # (The extender scores every node 0 for a pod without GPUs, so node order would pick gpu-0.)
    c = SimCluster((GPU_NODE, CPU_NODE))
    p = place_pod(c, pod("ns/cn", None, cpu_milli=64_000, memory_bytes=320 * GIB), 0.0,
                  default_profile())
    assert p is not None and p.node == "cpu-0" and p.gpus == ()


def test_cpu_pod_goes_to_the_gpu_node_when_it_is_the_emptier_host() -> None:
    # cpu-0 already holds 160 CPU: cpu (192-160-16)*100//192 = 8, mem 79 -> 43;
    # gpu-0: cpu (128-16)*100//128 = 87, mem (1024-64)*100//1024 = 93 -> 90  (wins)
    c = SimCluster((GPU_NODE, CPU_NODE))
    first = place_pod(c, pod("ns/big", None, cpu_milli=160_000, memory_bytes=0), 0.0,
                      default_profile())
    assert first is not None and first.node == "cpu-0"
    c.bind("big", first, 160_000, 0)
    p = place_pod(c, pod("ns/small", None, cpu_milli=16_000, memory_bytes=64 * GIB), 1.0,
                  default_profile())
    assert p is not None and p.node == "gpu-0"


def test_gpu_pod_still_goes_through_the_extender_path() -> None:
    # A whole-GPU pod can only land on the GPU node, whatever LeastAllocated says.
    c = SimCluster((GPU_NODE, CPU_NODE))
    p = place_pod(c, pod("ns/g", GpuRequest("whole", count=1), cpu_milli=8_000), 0.0,
                  default_profile())
    assert p is not None and p.node == "gpu-0" and len(p.gpus) == 1
