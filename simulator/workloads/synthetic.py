"""Synthetic multimodal trace: spiky inference services, training gangs, DAG pipelines and MIG
notebook requests on an H100 cluster with some statically partitioned MIG GPUs.

Shapes are invented but sized from the shipped traces' statistics (shared/reference/
traces-and-targets.md): openb's sharing pods ask 230-810 milli of a GPU and live a median
~600 s (inference replicas here: 300-1,800 s); Helios GPU jobs run 5,131-13,041 s on average
with ~2-7 GPUs per job (training here: 1,800-14,400 s, 1-32 GPUs); Tiresias jobs use 1/2/4/8
GPUs per job. One seeded `random.Random` drives everything: same seed, same trace.
"""

from __future__ import annotations

import math
import random

from scheduler.policy.model import GpuRequest
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec, Workload

GiB = 1024**3
GPU_MODEL = "H100-80GB"
# A maximal H100 layout: 1g + 1g + 2g + 3g fills all 8 memory slices (packing.mig.valid_layouts).
STATIC_MIG_LAYOUT: tuple[tuple[str, int], ...] = (
    ("1g.10gb", 0),
    ("1g.10gb", 1),
    ("2g.20gb", 2),
    ("3g.40gb", 4),
)
SHARE_MILLI = (230, 320, 470, 650, 810)
# Bounds on the scale knobs: `jobs=10**11` or `nodes=10**9` ran until killed, and a mean gap of
# 1e308 s overflowed the clock to infinity ("math domain error" in the diurnal sine).
MAX_JOBS = 1_000_000
MAX_NODES = 10_000
MAX_INTERARRIVAL_S = 1e6
DEFAULT_MIX = (0.45, 0.25, 0.10, 0.20)  # inference, training, pipeline, MIG notebook


def cluster(nodes: int, mig_nodes: int) -> tuple[NodeSpec, ...]:
    """`nodes` x 8 H100; the last `mig_nodes` have 4 of their 8 GPUs statically partitioned."""
    out = []
    for i in range(nodes):
        mig = i >= nodes - mig_nodes
        out.append(
            NodeSpec(
                f"h100-{i:03d}",
                GPU_MODEL,
                8,
                96_000,
                1024 * GiB,
                mig_gpus=4 if mig else 0,
                mig_layout=STATIC_MIG_LAYOUT if mig else (),
            )
        )
    return tuple(out)


def _spiky_rate(t: float, base: float) -> float:
    """Diurnal sine plus a 3x spike for 10 minutes every 2 hours (inference traffic)."""
    diurnal = 1.0 + 0.5 * math.sin(2 * math.pi * t / 86_400)
    spike = 3.0 if (t % 7_200) < 600 else 1.0
    return base * diurnal * spike


def _inference(rng: random.Random, uid: str, t: float) -> JobSpec:
    replicas = rng.choice((1, 1, 2, 3, 4))
    pick = rng.random()
    if pick < 0.4:
        gpu = GpuRequest(
            "milli", milli=rng.choice(SHARE_MILLI), memory_mib=rng.choice((8, 16, 24)) * 1024
        )
    elif pick < 0.7:
        gpu = GpuRequest("mig", profile=rng.choice(("1g.10gb", "2g.20gb", "3g.40gb")))
    else:
        gpu = GpuRequest("whole", count=1)
    task = TaskSpec(4_000, 32 * GiB, gpu)
    return JobSpec(uid, t, rng.uniform(300, 1_800), task, replicas, 1, "inference", priority=10)


def _training(rng: random.Random, uid: str, t: float) -> JobSpec:
    per_pod = rng.choice((1, 2, 4, 8, 8))
    pods = rng.choice((1, 2, 2, 4)) if per_pod == 8 else rng.choice((1, 2))
    task = TaskSpec(
        8_000 * per_pod // 2 + 4_000,
        64 * GiB * per_pod // 2 + 16 * GiB,
        GpuRequest("whole", count=per_pod),
    )
    return JobSpec(uid, t, rng.uniform(1_800, 14_400), task, pods, pods, "training")


def _pipeline(rng: random.Random, uid: str, t: float) -> list[JobSpec]:
    """preprocess (GPU share) -> train (2 x 4-GPU gang) -> evaluate (MIG 3g.40gb)."""
    pre = JobSpec(
        f"{uid}-pre",
        t,
        rng.uniform(300, 900),
        TaskSpec(8_000, 32 * GiB, GpuRequest("milli", milli=470, memory_mib=16_384)),
        kind="pipeline",
    )
    train = JobSpec(
        f"{uid}-train",
        t,
        rng.uniform(1_800, 7_200),
        TaskSpec(20_000, 160 * GiB, GpuRequest("whole", count=4)),
        2,
        2,
        "pipeline",
        after=(pre.uid,),
    )
    ev = JobSpec(
        f"{uid}-eval",
        t,
        rng.uniform(300, 900),
        TaskSpec(4_000, 32 * GiB, GpuRequest("mig", profile="3g.40gb")),
        kind="pipeline",
        after=(train.uid,),
    )
    return [pre, train, ev]


def _notebook(rng: random.Random, uid: str, t: float) -> JobSpec:
    gpu = GpuRequest("mig", profile=rng.choice(("1g.10gb", "1g.10gb", "2g.20gb")))
    return JobSpec(uid, t, rng.uniform(600, 7_200), TaskSpec(2_000, 16 * GiB, gpu), kind="mig")


def generate(
    seed: int = 0,
    jobs: int = 400,
    nodes: int = 16,
    mig_nodes: int = 4,
    mean_interarrival_s: float = 300.0,
    mix: tuple[float, float, float, float] = DEFAULT_MIX,
    name: str | None = None,
) -> Workload:
    """`jobs` submissions (a pipeline counts once) with a spiky Poisson arrival process; `mix`
    is the share of (inference, training, pipeline, MIG notebook) submissions."""
    if (not 1 <= jobs <= MAX_JOBS or not 1 <= nodes <= MAX_NODES
            or not 0 <= mig_nodes <= nodes or not 0 < mean_interarrival_s <= MAX_INTERARRIVAL_S):
        raise ValueError(
            f"bad synthetic trace option: need 1 <= jobs <= {MAX_JOBS:,}, "
            f"1 <= nodes <= {MAX_NODES:,}, 0 <= mig_nodes <= nodes, "
            f"0 < mean_interarrival_s <= {MAX_INTERARRIVAL_S:g}; got jobs={jobs}, nodes={nodes}, "
            f"mig_nodes={mig_nodes}, mean_interarrival_s={mean_interarrival_s}"
        )
    if len(mix) != 4 or min(mix) < 0 or abs(sum(mix) - 1.0) > 1e-9:
        raise ValueError(
            "bad synthetic trace option: mix must be 4 shares >= 0 summing to 1 "
            f"(inference, training, pipeline, notebook), got {mix}"
        )
    cut = [sum(mix[: k + 1]) for k in range(3)]
    rng = random.Random(seed)
    out: list[JobSpec] = []
    t = 0.0
    for i in range(jobs):
        t += rng.expovariate(_spiky_rate(t, 1.0 / mean_interarrival_s))
        uid = f"j{i:05d}"
        pick = rng.random()
        if pick < cut[0]:
            out.append(_inference(rng, uid, t))
        elif pick < cut[1]:
            out.append(_training(rng, uid, t))
        elif pick < cut[2]:
            out.extend(_pipeline(rng, uid, t))
        else:
            out.append(_notebook(rng, uid, t))
    return Workload(
        name or f"synthetic-seed{seed}",
        cluster(nodes, mig_nodes),
        tuple(out),
        f"simulator.workloads.synthetic seed={seed} jobs={jobs}",
    )


# `--trace synthetic:key=value,...`: every parameter of `generate`, by name (the mix by class).
SPEC_KEYS: dict[str, type] = {
    "seed": int,
    "jobs": int,
    "nodes": int,
    "mig_nodes": int,
    "mean_interarrival_s": float,
    "inference": float,
    "training": float,
    "pipeline": float,
    "notebook": float,
}
MIX_KEYS = ("inference", "training", "pipeline", "notebook")


def parse_spec(spec: str) -> dict[str, float]:
    """`synthetic` or `synthetic:seed=3,jobs=400,mean_interarrival_s=300,...` -> the options
    given, checked by name and type; ValueError (one line) names the first bad one."""
    head, _, rest = spec.partition(":")
    if head != "synthetic":
        raise ValueError(
            f"bad synthetic trace option: spec must start with 'synthetic', got {head!r}"
        )
    args: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = (x.strip() for x in part.partition("="))
        kind = SPEC_KEYS.get(key)
        if not value.isascii() or "_" in value:  # int() reads '1_000' and '٣'; say it plainly
            value = "?"
        if kind is None or not eq:
            raise ValueError(
                f"bad synthetic trace option {part!r}; known: {', '.join(SPEC_KEYS)} (key=value)"
            )
        if key in args:
            raise ValueError(f"bad synthetic trace option {part!r}: {key} given twice")
        try:
            number = kind(value)
        except ValueError:
            want = "an integer" if kind is int else "a number"
            raise ValueError(f"bad synthetic trace option {part!r}: {key} must be {want}") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"bad synthetic trace option {part!r}: {key} must be finite and >= 0")
        args[key] = number
    return args


def from_spec(spec: str, seed: int | None = None) -> Workload:
    """The workload a spec names; `seed` (when given) replaces the spec's seed. Mix shares
    not named keep their default; the four must still sum to 1."""
    args = parse_spec(spec)
    mix = tuple(args.pop(k, d) for k, d in zip(MIX_KEYS, DEFAULT_MIX, strict=True))
    chosen = int(args.pop("seed", 0)) if seed is None else seed
    args.pop("seed", None)
    return generate(
        chosen,
        int(args.get("jobs", 400)),
        int(args.get("nodes", 16)),
        int(args.get("mig_nodes", 4)),
        float(args.get("mean_interarrival_s", 300.0)),
        (mix[0], mix[1], mix[2], mix[3]),
    )
