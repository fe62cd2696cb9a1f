"""Vectorised filter over many nodes: the same verdicts as the default filter plugins.

`fast_filter` answers the common case with numpy over the `FleetIndex` (GPU model, health, fit
for whole GPUs, shares, static and dynamic MIG) and hands every row it cannot judge exactly to
the plugins one by one (`slow` rows, dynamic MIG asking for several instances on a node that
can host one). Failure reasons are summarised per request rather than per node; `explain` has
the per-node detail. tests/scheduler/policy/test_fast.py checks it equals the plugin path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from packing.fleet import can_place
from scheduler.policy.fleet_index import NO_GPU, FleetIndex
from scheduler.policy.framework import Profile, filter_node
from scheduler.policy.model import (
    MILLI_PER_GPU,
    ClusterState,
    GangPlanRecord,
    GpuRequest,
    PodRequest,
)
from scheduler.policy.plugins.gang import GangFilter
from scheduler.policy.plugins.health import HealthFilter, HealthThresholds
from scheduler.policy.rules import canonical
from scheduler.policy.status import Code

VECTOR_FILTERS = frozenset({"GpuModel", "GpuHealth", "Gang", "GpuFit"})
OK, UNSCHED, UNRES, UNKNOWN, GANG = 0, 1, 2, 3, 4


def _gang_nodes(plan: GangPlanRecord, pod: PodRequest) -> set[str]:
    """Nodes the gang filter lets this member onto (same rule as `GangFilter`)."""
    if plan.reason:
        return set()
    mine = plan.members.get(pod.uid)
    if mine is not None:
        return {plan.slots[mine].node}
    return {plan.slots[i].node for i in plan.open_slots(pod.gpu)}


@dataclass
class FilterOutcome:
    passed: list[str]
    failed: dict[str, str] = field(default_factory=dict)
    unresolvable: dict[str, str] = field(default_factory=dict)


def applicable(state: ClusterState, pod: PodRequest, profile: Profile) -> bool:
    """Whether the vector path gives exactly the plugin path's verdicts for this profile/pod."""
    names = [p.name for p in profile.filters]
    if pod.gpu is None or set(names) - VECTOR_FILTERS or "GpuFit" not in names:
        return False
    if not state.nodes:  # an empty fleet index has no rows to gather from
        return False
    if "GpuModel" in names and names.index("GpuModel") != 0:
        return False  # a model mismatch must be the first failure, as on the plugin path
    for p in profile.filters:
        if isinstance(p, HealthFilter) and p.thresholds != HealthThresholds():
            return False
    return True


Bools = npt.NDArray[np.bool_]


def _fit(
    idx: FleetIndex, r: npt.NDArray[np.intp], req: GpuRequest
) -> tuple[Bools, Bools, Bools, str, str]:
    """(fits, unresolvable, needs the exact path, unschedulable reason, unresolvable reason)."""
    n = len(r)
    exact: Bools = np.zeros(n, bool)
    ok: Bools
    unres: Bools
    if req.kind == "whole":
        pf = idx.plain_free[r]
        k = req.count
        ok = (pf == MILLI_PER_GPU).sum(axis=1) >= k
        unres = (pf != NO_GPU).sum(axis=1) < k
        return (
            ok,
            unres,
            exact,
            (f"fewer than {k} free whole GPU(s)"),
            f"fewer than {k} usable GPU(s) without MIG",
        )
    if req.kind == "milli":
        pf = idx.plain_free[r]
        ok = np.asarray(((pf >= req.milli) & (idx.plain_mem[r] >= req.memory_mib)).any(axis=1))
        roomy = (pf != NO_GPU) & (idx.plain_size[r] >= req.memory_mib)
        unres = np.asarray(np.logical_not(roomy.any(axis=1)))
        return (
            ok,
            unres,
            exact,
            (f"no GPU has {req.milli} milli and {req.memory_mib} MiB free"),
            f"no usable GPU without MIG has {req.memory_mib} MiB",
        )
    p = req.profile or ""
    k = req.count
    if not req.dynamic:
        free = idx.static_free.get(p)
        total = idx.static_total.get(p)
        ok = free[r] >= k if free is not None else np.zeros(n, bool)
        unres = total[r] < k if total is not None else np.ones(n, bool)
        return (
            ok,
            unres,
            exact,
            (f"fewer than {k} free {p} MIG instance(s)"),
            f"fewer than {k} {p} MIG instance(s) exist",
        )
    codes = idx.mig_code[r]
    masks = idx.mig_mask[r]
    me = idx.mig_me[r]
    can = np.zeros(codes.shape, bool)
    supports = np.zeros(codes.shape, bool)
    for sel, model, _ in idx.mig_models(codes, p):
        supports |= sel
        can |= sel & can_place(np.where(sel, masks, 0), model, p, me)
    one: Bools = np.asarray(can.any(axis=1))
    if k > 1:
        exact = one  # several instances: the exact planner decides where one fits
        one = np.zeros(n, bool)
    never: Bools = np.asarray(np.logical_not(supports.any(axis=1)))
    return (
        one,
        never,
        exact,
        (f"no free placement for {k} x {p}"),
        f"no MIG-enabled GPU here supports profile {p}",
    )


def fast_filter(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> FilterOutcome:
    """Verdicts for `names`; call only when `applicable(state, pod, profile)`."""
    req = pod.gpu
    assert req is not None
    idx = state.fleet()
    r, known = idx.rows_of(names)
    ok, unres, exact, why, why_never = _fit(idx, r, req)
    code = np.where(ok, OK, np.where(unres, UNRES, UNSCHED))
    model_why = ""
    if pod.allowed_products is not None and any(p.name == "GpuModel" for p in profile.filters):
        allowed = {canonical(x) for x in pod.allowed_products}
        codes = [i for i, k in enumerate(idx.keys) if k and k in allowed]
        code = np.where(np.isin(idx.product[r], codes), code, UNRES + 10)
        model_why = f"GpuModel: GPU model not in {', '.join(sorted(allowed))}"
    gang_why = ""
    plan = state.gangs.get(pod.gang.name) if pod.gang is not None else None
    if plan is not None and any(p.name == "Gang" for p in profile.filters):
        # The gang filter runs before the fit: off-plan nodes fail with the gang's reason.
        allowed = _gang_nodes(plan, pod)
        off = np.fromiter((n not in allowed for n in names), bool, len(names))
        probe = next((n for n, o in zip(names, off, strict=True) if o and n in state.nodes), None)
        if probe is not None:
            gang_why = f"Gang: {GangFilter().filter(state, pod, state.nodes[probe]).message}"
        code = np.where(off & (code != UNRES + 10), GANG, code)
    slow = (idx.slow[r] | exact) & known
    code = np.where(known, code, UNKNOWN)
    out = FilterOutcome([])
    arr = np.asarray(names, dtype=object)
    plain = code.copy()
    plain[slow] = -1
    out.passed = arr[plain == OK].tolist()
    out.failed = dict.fromkeys(arr[plain == UNSCHED].tolist(), f"GpuFit: {why}")
    out.unresolvable = dict.fromkeys(arr[plain == UNRES].tolist(), f"GpuFit: {why_never}")
    out.unresolvable.update(dict.fromkeys(arr[plain == UNRES + 10].tolist(), model_why))
    out.failed.update(dict.fromkeys(arr[plain == GANG].tolist(), gang_why))
    for name in arr[plain == UNKNOWN].tolist():
        out.failed[name] = f"node {name!r} is not in the cluster state"
    for i in np.flatnonzero(slow):
        name = names[int(i)]
        st = filter_node(state, pod, name, profile)
        if st.ok:
            out.passed.append(name)
        elif st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            out.unresolvable[name] = st.message
        else:
            out.failed[name] = st.message
    if np.any(slow):  # keep the caller's node order
        order = {n: i for i, n in enumerate(names)}
        out.passed.sort(key=order.__getitem__)
    return out
