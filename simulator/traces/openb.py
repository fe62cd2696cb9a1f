"""Alibaba cluster-trace-gpu-v2023 ("openb") pod and node lists.

Pod lists come in two forms: 11 columns (default, cpu*, gpushare*, gpuspec* variants, with QoS,
phase and times) and 5 columns (multigpu* variants: no constraint, QoS or times).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.traces.csvfile import Row, read_rows
from simulator.traces.errors import LoadReport

POD_HEADER_11 = (
    "name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
    "creation_time", "deletion_time", "scheduled_time",
)  # fmt: skip
POD_HEADER_5 = POD_HEADER_11[:5]
NODE_HEADER = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
MAX_GPUS_PER_POD = 8  # the trace's documented range for num_gpu


@dataclass(frozen=True)
class OpenbPod:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int  # per GPU; 1000 for whole GPUs, 0 for CPU-only pods
    gpu_spec: str = ""  # allowed GPU models, "|"-separated; "" = any
    qos: str = ""
    pod_phase: str = ""
    creation_time: float | None = None
    deletion_time: float | None = None
    scheduled_time: float | None = None

    @property
    def total_gpu_milli(self) -> int:
        return self.num_gpu * self.gpu_milli


@dataclass(frozen=True)
class OpenbNode:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    model: str  # "" for CPU-only nodes


def _pod(row: Row) -> OpenbPod:
    name = row.text("name")
    if not name:
        raise row.fail("name", "empty pod name")
    num_gpu = row.integer("num_gpu", hi=MAX_GPUS_PER_POD)
    gpu_milli = row.integer("gpu_milli", hi=1000)
    if num_gpu == 0 and gpu_milli != 0:
        raise row.fail("gpu_milli", f"a pod with num_gpu 0 cannot ask for {gpu_milli} GPU milli")
    if num_gpu > 0 and gpu_milli == 0:
        raise row.fail("gpu_milli", f"a pod with num_gpu {num_gpu} needs gpu_milli 1..1000")
    if num_gpu > 1 and gpu_milli != 1000:
        raise row.fail("gpu_milli", f"num_gpu {num_gpu} takes whole GPUs (1000), got {gpu_milli}")
    spec = row.text("gpu_spec")
    return OpenbPod(
        name=name,
        cpu_milli=row.integer("cpu_milli"),
        memory_mib=row.integer("memory_mib"),
        num_gpu=num_gpu,
        gpu_milli=gpu_milli,
        gpu_spec="" if spec.lower() == "nan" else spec,
        qos=row.text("qos"),
        pod_phase=row.text("pod_phase"),
        creation_time=row.seconds("creation_time", optional=True),
        deletion_time=row.seconds("deletion_time", optional=True),
        scheduled_time=row.seconds("scheduled_time", optional=True),
    )


def _node(row: Row) -> OpenbNode:
    name = row.text("sn")
    if not name:
        raise row.fail("sn", "empty node name")
    gpus = row.integer("gpu")
    model = row.text("model")
    if model.lower() == "nan":
        model = ""
    if gpus > 0 and not model:
        raise row.fail("model", f"node with {gpus} GPUs has no GPU model")
    return OpenbNode(name, row.integer("cpu_milli"), row.integer("memory_mib"), gpus, model)


def load_openb_pods(
    path: str | Path, *, lenient: bool = False, unique: bool = False
) -> LoadReport[OpenbPod]:
    """Pods from an openb pod list in either the 11- or the 5-column form; `unique`: a pod
    name may not repeat (the replay's job ids)."""
    return read_rows(
        path,
        (POD_HEADER_11, POD_HEADER_5),
        _pod,
        lenient=lenient,
        unique=("name", lambda p: p.name) if unique else None,
    )


def load_openb_nodes(
    path: str | Path, *, lenient: bool = False, unique: bool = False
) -> LoadReport[OpenbNode]:
    """`unique`: a node name may not repeat (the replay's cluster is keyed by name)."""
    return read_rows(
        path,
        (NODE_HEADER,),
        _node,
        lenient=lenient,
        unique=("sn", lambda n: n.name) if unique else None,
    )
