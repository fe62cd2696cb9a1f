"""Serving runs per policy (the same requests, cluster and autoscaler for each)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.metrics import ServingResult, summarise
from simulator.serving.requests import Request
from simulator.serving.sim import serve

SERVING_POLICIES = ("tessera", "volcano", "kube-default")


def run_serving(reqs: list[Request], spec: ServingSpec, scale: Autoscale, policy: str,
                trace: str, seed: int = 0) -> ServingResult:
    out = serve(reqs, spec, scale, policy, seed)
    return summarise(policy, Path(trace).name, seed, reqs, out, spec.slo_wait_s)


def serving_json(results: Sequence[ServingResult]) -> str:
    return json.dumps([r.to_dict() for r in results], sort_keys=True, separators=(",", ":"))
