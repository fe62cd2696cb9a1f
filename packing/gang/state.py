"""Mutable working state of many nodes' GPUs as flat numpy arrays, for the gang planner.

GPUs of all nodes sit in one array (node by node, so each node's GPUs are contiguous).  A grant
is applied through `apply`, which checks it against the exact geometry and capacities, so a plan
that passes `evaluate_plan` never double-books a GPU, slice, instance, CPU or memory.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from packing.catalogue import get_model
from packing.errors import InvalidPlacementError, PackingError
from packing.fractional import MILLI_PER_GPU
from packing.gang.cost import CostModel
from packing.gang.types import GangMember, Grant, MemberPlacement, NodeSlot
from packing.mig import MigInstance, check_layout

UNTRACKED = np.iinfo(np.int64).max // 4  # GPU memory not tracked: never the limit


@lru_cache(maxsize=65536)
def _geometry(model: str, instances: tuple[MigInstance, ...]) -> tuple[int, bool]:
    """(occupancy mask, whether a +me instance exists) of one GPU's layout, validated."""
    m = get_model(model)
    return (
        check_layout(m, instances),
        any(m.profile(i.profile).media_extension for i in instances),
    )


@dataclass(frozen=True, slots=True)
class _Columns:
    """One node's GPUs as FleetState's columns hold them (model keys, not model ids)."""

    index: list[int]
    models: list[str]
    mig: list[bool]
    dynamic: list[bool]
    mask: list[int]
    me_used: list[bool]
    free_milli: list[int]
    free_mem: list[int]
    free_inst: list[frozenset[tuple[str, int]]]
    existing: list[tuple[MigInstance, ...]]
    n_free_inst: list[int]
    distinct_models: tuple[str, ...]  # `models` without repeats, in order


# Per node slot object (by id; the value keeps the slot alive, so no id is reused while it is
# here): the scheduler builds one slot per node view and plans every waiting gang over it.
_COLUMNS: dict[int, tuple[NodeSlot, _Columns]] = {}
_COLUMNS_LIMIT = 8192


def _columns(n: NodeSlot) -> _Columns:
    hit = _COLUMNS.get(id(n))
    if hit is not None and hit[0] is n:
        return hit[1]
    no_inst: tuple[MigInstance, ...] = ()
    no_free: frozenset[tuple[str, int]] = frozenset()
    c = _Columns([], [], [], [], [], [], [], [], [], [], [], ())
    for g in n.gpus:
        c.index.append(g.index)
        c.models.append(g.model)
        c.mig.append(g.mig_enabled)
        c.dynamic.append(g.mig_enabled and g.dynamic)
        if g.instances:
            insts = tuple(i for i, _ in g.instances)
            geo = _geometry(g.model, insts)
            c.free_inst.append(frozenset((i.profile, i.start) for i, u in g.instances if not u))
        else:
            insts, geo = no_inst, (0, False)
            c.free_inst.append(no_free)
        c.existing.append(insts)
        c.mask.append(geo[0])
        c.me_used.append(geo[1])
        c.free_milli.append(0 if g.mig_enabled else g.free_milli)
        c.free_mem.append(UNTRACKED if g.free_memory_mib is None else g.free_memory_mib)
        c.n_free_inst.append(len(c.free_inst[-1]))
    c = replace(c, distinct_models=tuple(dict.fromkeys(c.models)))
    if len(_COLUMNS) >= _COLUMNS_LIMIT:
        _COLUMNS.clear()
    _COLUMNS[id(n)] = (n, c)
    return c


class FleetState:
    def __init__(self, nodes: Sequence[NodeSlot], cost: CostModel) -> None:
        self.nodes = tuple(nodes)
        self.cost = cost
        self.node_pos = {n.name: i for i, n in enumerate(self.nodes)}
        if len(self.node_pos) != len(self.nodes):
            raise PackingError("node names must be unique")
        models: dict[str, int] = {}
        node_of: list[int] = []
        index: list[int] = []
        model_id: list[int] = []
        mig: list[bool] = []
        dynamic: list[bool] = []
        mask: list[int] = []
        me_used: list[bool] = []
        free_milli: list[int] = []
        free_mem: list[int] = []
        n_free_inst: list[int] = []
        # free existing MIG (profile, start); frozensets, replaced not mutated, so a copy is cheap
        self.free_inst: list[frozenset[tuple[str, int]]] = []
        self.existing: list[tuple[MigInstance, ...]] = []  # MIG instances (existing + created)
        self.first_gpu: dict[int, int] = {}  # node position -> its first GPU position
        for ni, n in enumerate(self.nodes):  # this runs over thousands of GPUs
            c = _columns(n)
            self.first_gpu[ni] = len(node_of)
            node_of += [ni] * len(n.gpus)
            index += c.index
            for k in c.distinct_models:  # model ids in order of first appearance
                models.setdefault(k, len(models))
            if len(c.distinct_models) == 1:  # the usual node: one GPU model
                model_id += [models[c.distinct_models[0]]] * len(c.models)
            else:
                model_id += [models[k] for k in c.models]
            mig += c.mig
            dynamic += c.dynamic
            mask += c.mask
            me_used += c.me_used
            free_milli += c.free_milli
            free_mem += c.free_mem
            n_free_inst += c.n_free_inst
            self.free_inst += c.free_inst
            self.existing += c.existing
        self.models = list(models)
        self.node_of = np.array(node_of, dtype=np.intp)
        self.index = np.array(index, dtype=np.intp)
        self.model_id = np.array(model_id, dtype=np.intp)
        self.mig = np.array(mig, dtype=bool)
        self.dynamic = np.array(dynamic, dtype=bool)
        self.mask = np.array(mask, dtype=np.int64)
        self.me_used = np.array(me_used, dtype=bool)
        self.free_milli = np.array(free_milli, dtype=np.int64)
        self.free_mem = np.array(free_mem, dtype=np.int64)
        self.n_free_inst = np.array(n_free_inst, dtype=np.int64)
        self.cpu = np.array([n.cpu_milli_free for n in self.nodes], dtype=np.int64)
        self.mem = np.array([n.memory_bytes_free for n in self.nodes], dtype=np.int64)

    def copy(self) -> FleetState:
        """An independent copy (the greedy packer consumes its state)."""
        out = copy.copy(self)
        for name in ("mask", "me_used", "free_milli", "free_mem", "n_free_inst", "cpu", "mem"):
            setattr(out, name, getattr(self, name).copy())
        out.free_inst = list(self.free_inst)
        out.existing = list(self.existing)
        return out

    def gpu_pos(self, node: int, index: int) -> int:
        lo = self.first_gpu[node]
        for p in range(lo, lo + len(self.nodes[node].gpus)):
            if self.index[p] == index:
                return p
        raise InvalidPlacementError(f"node {self.nodes[node].name} has no GPU {index}")

    def gpu_cost(self, p: int) -> int:
        if self.mig[p]:
            return int(self.cost.mig(self.models[self.model_id[p]])[self.mask[p]])
        return int(self.cost.share[self.free_milli[p]])

    def take_node(self, node: int, member: GangMember) -> None:
        if self.cpu[node] < member.cpu_milli or self.mem[node] < member.memory_bytes:
            raise InvalidPlacementError(
                f"node {self.nodes[node].name} lacks CPU or memory for {member.key}"
            )
        self.cpu[node] -= member.cpu_milli
        self.mem[node] -= member.memory_bytes

    def apply(self, node: int, member: GangMember, g: Grant) -> int:
        """Give `g` on `node` to `member`; returns the GPU's cost change; raises if invalid."""
        p = self.gpu_pos(node, g.index)
        model = self.models[self.model_id[p]]
        if member.gpu_models and model not in {get_model(k).key for k in member.gpu_models}:
            raise InvalidPlacementError(f"{member.key} may not use a {model}")
        before = self.gpu_cost(p)
        where = f"GPU {g.index} of {self.nodes[node].name}"
        if member.kind == "whole":
            if not g.whole or self.mig[p] or self.free_milli[p] != MILLI_PER_GPU:
                raise InvalidPlacementError(f"{where} is not a free whole GPU")
            self.free_milli[p] = 0
        elif member.kind == "milli":
            if (
                self.mig[p]
                or g.milli != member.milli
                or self.free_milli[p] < g.milli
                or self.free_mem[p] < member.gpu_memory_mib
            ):
                raise InvalidPlacementError(f"{where} cannot take {member.milli} milli")
            self.free_milli[p] -= g.milli
            self.free_mem[p] -= member.gpu_memory_mib
        else:
            prof = get_model(model).profile(member.mig_profile or "")
            if not self.mig[p] or g.profile != prof.name or g.start is None:
                raise InvalidPlacementError(f"{where} cannot give {member.mig_profile}")
            if g.existing:
                if (prof.name, g.start) not in self.free_inst[p]:
                    raise InvalidPlacementError(f"{where} has no free {prof.name}@{g.start}")
                self.free_inst[p] = self.free_inst[p] - {(prof.name, g.start)}
                self.n_free_inst[p] -= 1
            else:
                if not self.dynamic[p]:
                    raise InvalidPlacementError(f"{where} does not allow new MIG instances")
                new = (*self.existing[p], MigInstance(prof.name, g.start))
                try:  # every geometry rule: starts, overlap, max count, +me, compute
                    self.mask[p] = check_layout(model, new)
                except InvalidPlacementError as exc:
                    raise InvalidPlacementError(f"{where}: {exc}") from None
                self.existing[p] = new
                self.me_used[p] |= prof.media_extension
        return self.gpu_cost(p) - before


def evaluate_plan(
    members: Sequence[GangMember],
    nodes: Sequence[NodeSlot],
    placements: Mapping[str, MemberPlacement],
    cost: CostModel,
) -> int:
    """The objective of a complete plan; raises InvalidPlacementError if it is not valid."""
    if set(placements) != {m.key for m in members}:
        raise InvalidPlacementError("a plan must place every gang member exactly once")
    names = {mp.node for mp in placements.values()}
    st = FleetState([n for n in nodes if n.name in names], cost)
    total = 0
    used: set[int] = set()
    for m in members:
        mp = placements[m.key]
        if mp.node not in st.node_pos:
            raise InvalidPlacementError(f"{m.key} placed on unknown node {mp.node!r}")
        ni = st.node_pos[mp.node]
        need = m.whole or m.mig_count or 1
        if len(mp.grants) != need or (
            m.kind != "mig" and len({g.index for g in mp.grants}) != need
        ):
            raise InvalidPlacementError(f"{m.key} needs {need} grant(s) on distinct GPUs")
        st.take_node(ni, m)
        used.add(ni)
        total += sum(st.apply(ni, m, g) for g in mp.grants)
    return total + cost.node_term(len(used))
