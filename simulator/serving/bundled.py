"""The serving half of `tessera simulate compare`: the GenAI v2026 request trace (two busy
days, one 8 x H100 node, quarter-GPU replicas) and the synthetic multimodal day's requests
(3 x 8 H100, two nodes in MIG mode; replicas sized to each model's MIG slice)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.metrics import ServingResult
from simulator.serving.requests import Request, from_records, load_requests, window
from simulator.serving.study import run_serving
from simulator.workloads.multimodal import MultimodalParams, generate

GENAI_DEFAULT = Path("../shared/traces/alibaba-genai-v2026/lora_request_trace.csv")
GENAI_WINDOW_H = (360.0, 48.0)  # hours 360-408: Dec 1-2 in the trace, its busiest days


def serving_cases(seed: int, genai: Path | None
                  ) -> list[tuple[str, list[Request], ServingSpec]]:
    cases = []
    if genai is not None:
        reqs = window(load_requests(genai), GENAI_WINDOW_H[0] * 3600, GENAI_WINDOW_H[1])
        cases.append((f"{genai.name} (48 h)", reqs, ServingSpec(nodes=1)))
    day = from_records(tuple(generate(MultimodalParams(seed=seed))))
    # one name for every seed (the result carries its seed), so a seed study groups the days
    cases.append(("multimodal day", day, ServingSpec(nodes=3, mig_nodes=2)))
    return cases


def bundled_serving(seeds: int | Sequence[int], genai: Path | None, policies: Sequence[str],
                    step: Callable[[str], None] | None = None) -> list[ServingResult]:
    """Every case of every seed through every policy, seed by seed. The GenAI requests are
    read once (they are the same for every seed; only the policies' seed changes)."""
    out = []
    genai_cases = serving_cases(0, genai)[:-1] if genai is not None else []
    for seed in [seeds] if isinstance(seeds, int) else seeds:
        day = serving_cases(seed, None)
        for name, reqs, spec in genai_cases + day:
            for policy in policies:
                out.append(run_serving(reqs, spec, Autoscale(), policy, name, seed))
                if step is not None:
                    step(f"seed {seed}, {name}: {policy}")
    return out
