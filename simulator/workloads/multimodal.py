"""A seeded synthetic multimodal day in the trace schema (docs/workload-generator.md).

It produces schema records (simulator.workloads.schema): requests to hundreds of models with a
long-tail popularity and diurnal, bursty traffic; training gangs of 2-64 pods; DAG pipelines
whose stages start when their upstream stages finish; and Triton-style ensembles. Every
parameter lives in `MultimodalParams`; where a value comes from a published trace the field's
comment names the source, and the rest are marked as our assumptions.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields

from simulator.traces.csvfile import MAX_REQUEST_S
from simulator.workloads.schema import TraceRecord

DAY_S = 86_400.0
# Hourly request rate relative to the mean, hours 0-23 of the GenAI v2026 LoRA request trace
# (lora_request_trace.csv, 26,823 requests, times as anonymised). Floored at 0.05 so no hour is
# empty: the trace's empty hours are an artefact of one service's user base.
GENAI_HOURLY = (3.43, 0.98, 1.05, 1.08, 0.6, 0.32, 0.3, 0.23, 0.11, 0.05, 0.05, 0.05, 0.05, 0.05,
                0.05, 0.05, 0.57, 2.1, 2.48, 0.56, 0.98, 2.97, 2.97, 3.16)
MODALITIES = ("text", "image", "audio", "video", "multimodal")
# MIG profiles of an H100-80GB by usable memory (GiB, packing catalogue), smallest first; a
# model that needs more than 3g.40gb takes whole GPUs (a 7g.80gb slice is a whole card anyway)
MIG_BY_MEMORY = (("1g.10gb", 9.75), ("2g.20gb", 19.5), ("3g.40gb", 39.25))
GPU_GIB = 79.25


@dataclass(frozen=True)
class MultimodalParams:
    seed: int = 0
    hours: float = 24.0
    models: int = 300
    requests: int = 20_000  # over `hours`
    # GenAI v2026 trace: requests per base model fit a Zipf law with s ~ 1.7 over its top 30
    # of 86 models (log-log least squares; 2.2 over all 86)
    zipf_s: float = 1.7
    # assumption: modality mix of the models (text, image, audio, video, multimodal)
    modality_mix: tuple[float, ...] = (0.40, 0.30, 0.10, 0.05, 0.15)
    # GenAI v2026 trace: image requests run a median 23 s, geometric s.d. 1.79; other
    # modalities' medians are our assumptions (LLM chat turn, speech, video clip, VLM turn)
    exec_median_s: tuple[float, ...] = (4.0, 23.0, 6.0, 60.0, 10.0)
    exec_gsd: float = 1.79
    # assumption: median model weights (GiB) per modality; serving needs 1.3x for activations
    weights_median_gib: tuple[float, ...] = (14.0, 6.0, 3.0, 20.0, 16.0)
    # assumption: a burst (one model goes viral) starts every 3 h on average and lasts ~10 min
    # (exponential); during it the total rate doubles and the extra half goes to that model.
    # (The GenAI trace's busiest hour holds 6.0x the mean hourly requests; its busiest minute
    # 64 against a mean of 2.7 per minute with requests.)
    burst_every_s: float = 3 * 3600.0
    burst_len_s: float = 600.0
    burst_share: float = 0.5
    slo_ms: float = 10_000.0
    training_jobs: int = 40
    # Helios (SC '21, all four clusters): median GPU-job run 206 s, mean 6,652 s -> lognormal
    # with that median and sigma = sqrt(2 ln(mean / median)) = 2.64; capped at 12 h
    train_median_s: float = 206.0
    train_sigma: float = 2.64
    pipelines: int = 30
    ensembles: int = 20

    def __post_init__(self) -> None:
        for name, (lo, hi) in BOUNDS.items():
            value = getattr(self, name)
            open_lo = value == lo and name in OPEN_AT_LO
            if not (math.isfinite(value) and lo <= value <= hi) or open_lo:
                low = "<" if name in OPEN_AT_LO else "<="
                raise ValueError(f"multimodal option {name}: need {_num(lo)} {low} {name} <= "
                                 f"{_num(hi)}, got {value!r}")
        for name in ("modality_mix", "exec_median_s", "weights_median_gib"):
            if len(getattr(self, name)) != len(MODALITIES):
                raise ValueError(f"multimodal: {name} needs {len(MODALITIES)} values")
        if self.burst_share == 1:
            raise ValueError("multimodal option burst_share: need 0 <= burst_share < 1, got 1")
        if self.hours * 3600 / self.burst_every_s > MAX_BURSTS:
            raise ValueError(f"multimodal option burst_every_s: {self.burst_every_s:g} s gives "
                             f"more than {MAX_BURSTS:,} bursts in {self.hours:g} h")


# Every scalar knob's range: unbounded counts (`requests=10**12`, `models=10**9`), `hours=1e308`
# or a burst every 1e-300 s ran until killed; `exec_gsd=0` or `burst_every_s=0` raised
# ZeroDivisionError/math-domain tracebacks; NaN passed every `<` check.
BOUNDS: dict[str, tuple[float, float]] = {
    "seed": (0, 2**63 - 1), "hours": (0, 366 * 24.0), "models": (1, 100_000),
    "requests": (0, 5_000_000), "zipf_s": (0, 10.0), "exec_gsd": (1.0, 100.0),
    "burst_every_s": (0, 1e9), "burst_len_s": (0, 1e9), "burst_share": (0, 1.0),
    "slo_ms": (0, 1e9), "training_jobs": (0, 10_000), "train_median_s": (0, 1e6),
    "train_sigma": (0, 10.0), "pipelines": (0, 10_000), "ensembles": (0, 10_000),
}  # fmt: skip
OPEN_AT_LO = frozenset({"hours", "zipf_s", "burst_every_s", "burst_len_s", "slo_ms",
                        "train_median_s"})
MAX_BURSTS = 100_000  # each request scans the bursts: keep requests x bursts bounded


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def parse_params(text: str) -> MultimodalParams:
    """`seed=3,models=200,requests=5000` -> params; every scalar field by name, each at most
    once, in its range (`BOUNDS`); a bad one is a one-line ValueError naming it."""
    known = {f.name: f for f in fields(MultimodalParams) if f.type in ("int", "float")}
    args: dict[str, int | float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = (x.strip() for x in part.partition("="))
        if key not in known or not eq:
            raise ValueError(f"unknown multimodal option {(key if eq else part)[:60]!r}; known: "
                             f"{', '.join(known)} (key=value)")
        if key in args:
            raise ValueError(f"multimodal option {key}: given twice")
        try:  # int() and float() also read '1_000' and non-ASCII digits: refused as typos
            if not value.isascii() or "_" in value:
                raise ValueError
            args[key] = int(value) if known[key].type == "int" else float(value)
        except ValueError:
            raise ValueError(f"multimodal option {key}: bad value {value[:40]!r}") from None
    return MultimodalParams(**args)  # type: ignore[arg-type]


def mig_for(gib: float) -> str:
    """Smallest H100 MIG profile holding `gib`, else whole GPUs (1, 2, 4 or 8)."""
    for profile, cap in MIG_BY_MEMORY:
        if gib <= cap:
            return f"mig:{profile}"
    return f"whole:{min(8, 2 ** max(0, math.ceil(math.log2(gib / GPU_GIB))))}"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    modality: str
    gpu: str
    weight: float  # popularity


def _models(p: MultimodalParams, rng: random.Random) -> list[ModelInfo]:
    out = []
    for k in range(p.models):
        m = rng.choices(range(len(MODALITIES)), weights=p.modality_mix)[0]
        gib = 1.3 * p.weights_median_gib[m] * math.exp(rng.gauss(0, 0.7))
        out.append(ModelInfo(f"{MODALITIES[m]}-{k:03d}", MODALITIES[m], mig_for(gib),
                             1.0 / (k + 1) ** p.zipf_s))
    return out




def _requests(p: MultimodalParams, rng: random.Random,
              models: list[ModelInfo]) -> list[TraceRecord]:
    end = p.hours * 3600
    peak = 2 * max(GENAI_HOURLY)  # diurnal peak, doubled in a burst
    mean_rate = p.requests / end
    weights = [m.weight for m in models]
    bursts: list[tuple[float, float, int]] = []
    t = rng.expovariate(1 / p.burst_every_s)
    while t < end:
        bursts.append((t, t + rng.expovariate(1 / p.burst_len_s),
                       rng.choices(range(len(models)), weights=weights)[0]))
        t += rng.expovariate(1 / p.burst_every_s)
    out: list[TraceRecord] = []
    t = 0.0
    while mean_rate > 0:  # thinning: a Poisson process at the peak rate, kept with rate(t) / peak
        t += rng.expovariate(mean_rate * peak)
        if t >= end:
            break
        burst = next((b for b in bursts if b[0] <= t < b[1]), None)
        rate = GENAI_HOURLY[int(t // 3600) % 24] * (2 if burst is not None else 1)
        if rng.random() > rate / peak:
            continue
        if burst is not None and rng.random() < p.burst_share:
            m = models[burst[2]]
        else:
            m = rng.choices(models, weights=weights)[0]
        mi = MODALITIES.index(m.modality)
        run = p.exec_median_s[mi] * math.exp(rng.gauss(0, math.log(p.exec_gsd)))
        run = min(max(run, 0.5), MAX_REQUEST_S)  # a day at most, as the schema reads it back
        out.append(TraceRecord(f"req-{len(out):06d}", round(t, 3), round(run, 3),
                               m.modality, "request", model=m.name, gpu=m.gpu,
                               cpu_milli=2000, memory_mib=8192, slo_ms=p.slo_ms))
    return out


def _lognormal(rng: random.Random, median: float, sigma: float, cap: float) -> float:
    return round(min(median * math.exp(rng.gauss(0, sigma)), cap), 3)


def _training(p: MultimodalParams, rng: random.Random) -> list[TraceRecord]:
    """Gangs of 2-64 one-GPU pods; P(2^k pods) halves with each k (k = 1..6), so the mean gang
    is ~7 pods; Helios's 3.7 GPUs per job includes the single-GPU jobs a gang excludes."""
    out = []
    for j in range(p.training_jobs):
        k = rng.choices(range(1, 7), weights=[0.5**k for k in range(1, 6)] + [0.5**5])[0]
        pods, at = 2**k, round(rng.uniform(0, p.hours * 3600), 3)
        run = max(_lognormal(rng, p.train_median_s, p.train_sigma, 12 * 3600.0), 60.0)
        modality = rng.choices(MODALITIES, weights=p.modality_mix)[0]
        gang = f"train-{j:03d}"
        out += [TraceRecord(f"{gang}-{i}", at, run, modality, "training", model=gang,
                            gang_id=gang, gang_size=pods, gpu="whole:1", cpu_milli=8000,
                            memory_mib=64 * 1024) for i in range(pods)]
    return out


def _pipelines(p: MultimodalParams, rng: random.Random) -> list[TraceRecord]:
    """prep (CPU) -> fine-tune (gang of 2, 4 or 8 one-GPU pods) -> eval (MIG 3g.40gb) ->
    export (MIG 1g.10gb) and report (CPU) in parallel: a Kubeflow-style DAG; assumed shapes
    and median run times (600, 1,800, 900, 300, 120 s; lognormal sigma 0.5)."""
    out: list[TraceRecord] = []
    for j in range(p.pipelines):
        pid, at = f"pipe-{j:03d}", round(rng.uniform(0, p.hours * 3600), 3)
        modality = rng.choices(MODALITIES, weights=p.modality_mix)[0]
        pods = rng.choice((2, 4, 8))
        stages = (("prep", (), "", 600.0, 1),
                  ("tune", (f"{pid}-prep",), "whole:1", 1800.0, pods),
                  ("eval", (f"{pid}-tune-0",), "mig:3g.40gb", 900.0, 1),
                  ("export", (f"{pid}-eval",), "mig:1g.10gb", 300.0, 1),
                  ("report", (f"{pid}-eval",), "", 120.0, 1))
        for name, up, gpu, median, n in stages:
            run = _lognormal(rng, median, 0.5, 6 * 3600.0)
            gang = f"{pid}-{name}" if n > 1 else ""
            out += [TraceRecord(f"{pid}-{name}" + (f"-{i}" if n > 1 else ""), at, run,
                                modality, "pipeline_stage", pipeline_id=pid, upstream=up,
                                gang_id=gang, gang_size=n, gpu=gpu, cpu_milli=4000,
                                memory_mib=16 * 1024) for i in range(n)]
    return out


def _ensembles(p: MultimodalParams, rng: random.Random,
               models: list[ModelInfo]) -> list[TraceRecord]:
    """Triton ensembles: pre-processing, a model and post-processing run in one Triton server
    pod, so the members are co-located on one node (and one GPU slice) by construction; the
    pod's slice holds the members' memory summed (pre/post: 1 GiB each)."""
    out = []
    for j in range(p.ensembles):
        m = rng.choices(models, weights=[x.weight for x in models])[0]
        mi = MODALITIES.index(m.modality)
        gib = 1.3 * p.weights_median_gib[mi] * math.exp(rng.gauss(0, 0.7)) + 2.0
        at = round(rng.uniform(0, p.hours * 3600), 3)
        out.append(TraceRecord(f"ens-{j:03d}", at, _lognormal(rng, 4 * 3600.0, 0.5, DAY_S),
                               m.modality, "service", model=f"ensemble(pre+{m.name}+post)",
                               gpu=mig_for(gib), cpu_milli=8000, memory_mib=32 * 1024,
                               slo_ms=p.slo_ms))
    return out


def generate(p: MultimodalParams) -> list[TraceRecord]:
    """All records, sorted by (arrival, id). One `random.Random(seed)` per part, so changing
    one part's count leaves the others' records unchanged."""
    models = _models(p, random.Random(f"{p.seed}/models"))
    recs = (_requests(p, random.Random(f"{p.seed}/requests"), models)
            + _training(p, random.Random(f"{p.seed}/training"))
            + _pipelines(p, random.Random(f"{p.seed}/pipelines"))
            + _ensembles(p, random.Random(f"{p.seed}/ensembles"), models))
    return sorted(recs, key=lambda r: (r.arrival_s, r.id))
