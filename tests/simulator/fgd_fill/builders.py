"""Builders for tiny fill experiments (nodes, pods, clusters in a given state)."""

from __future__ import annotations

from simulator.fgd_fill.cluster import FillCluster
from simulator.traces.openb import OpenbNode, OpenbPod


def node(
    name: str, gpus: int = 2, cpu: int = 32_000, mem: int = 262_144, model: str = "T4"
) -> OpenbNode:
    return OpenbNode(name, cpu, mem, gpus, model)


def pod(
    name: str, num_gpu: int = 1, milli: int = 1000, cpu: int = 1000, mem: int = 1024, spec: str = ""
) -> OpenbPod:
    return OpenbPod(name, cpu, mem, num_gpu, milli if num_gpu else 0, spec)


def cluster(*nodes: OpenbNode) -> FillCluster:
    return FillCluster(list(nodes))
