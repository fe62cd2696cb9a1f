"""Why each node fits a pod or not, and how the fitting ones score (a JSON-ready dict)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scheduler.policy.framework import choose_placement, run_filters, run_scores, score_breakdown
from scheduler.policy.model import Placement
from scheduler.state.errors import UnknownPodError

if TYPE_CHECKING:  # pragma: no cover
    from scheduler.state.extender import Extender


def placement_dict(p: Placement | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "node": p.node,
        "gpus": [
            {k: v for k, v in (("index", g.index), ("uuid", g.uuid), ("profile", g.profile),
                               ("start", g.start), ("milli", g.milli),
                               ("memory_mib", g.memory_mib)) if v is not None}
            for g in p.gpus
        ],
    }  # fmt: skip


def explain(ext: Extender, pod_key: str, now: float) -> dict[str, Any]:
    """Raises `UnknownPodError` (a KeyError-like ValueError) when the store never saw the pod."""
    rec = ext.store.pod(pod_key)
    if rec is None:
        raise UnknownPodError(f"pod {pod_key} is unknown to the extender")
    pod = rec.request
    state = ext.view(pod, now)
    names = sorted(state.nodes)
    statuses = run_filters(state, pod, names, ext.profile, all_reasons=True)
    passed = [n for n in names if statuses[n].ok]
    scores = run_scores(state, pod, passed, ext.profile) if pod.gpu is not None else {}
    nodes: dict[str, Any] = {}
    for n in names:
        st = statuses[n]
        entry: dict[str, Any] = {"fits": st.ok, "code": st.code.name}
        if not st.ok:
            entry["reasons"] = list(st.reasons)
        else:
            entry["score"] = scores.get(n, 0)
            entry["scores"] = score_breakdown(state, pod, n, ext.profile)
            entry["placement"] = placement_dict(choose_placement(state, pod, state.nodes[n]))
        problem = ext.store.node_problem(n)
        if problem:
            entry["inventory_problem"] = problem
        entry["inventory_source"] = state.nodes[n].source
        nodes[n] = entry
    held = ext.store.ledger.get(pod.uid, now)
    gang = state.gangs.get(pod.gang.name) if pod.gang is not None else None
    g = pod.gpu
    return {
        "pod": pod.key,
        "uid": pod.uid,
        "request": None
        if g is None
        else {"kind": g.kind, "count": g.count, "profile": g.profile, "dynamic": g.dynamic,
              "milli": g.milli, "memory_mib": g.memory_mib},
        "allowed_products": sorted(pod.allowed_products) if pod.allowed_products else None,
        "bound": placement_dict(rec.allocation.placement) if rec.allocation else None,
        # Why the pod reads other than Tessera would schedule it, or why its placement
        # annotation was refused (then it is charged by its requests): {"spec", "placement"}.
        "problems": rec.problems(),
        "reserved": placement_dict(held.placement) if held else None,
        "gang": None
        if pod.gang is None
        else {"name": pod.gang.name, "min_member": pod.gang.min_member,
              "plan": None if gang is None else {
                  "status": gang.status or ("failed" if gang.reason else ""),
                  "reason": gang.reason,
                  "slots": [placement_dict(s) for s in gang.slots]}},
        "best": max(passed, key=lambda n: (scores.get(n, 0), [-ord(c) for c in n]), default=None),
        "nodes": nodes,
    }  # fmt: skip
