"""The fill experiment's cluster: per-node numpy arrays (GPU milli left per GPU slot, CPU,
memory), so every policy scores all nodes with a few vector operations.

Free GPU milli lives in ``gpu_left`` (nodes x 8), padded with ``NO_GPU`` where a node has fewer
GPUs; ``packing.fractional`` does the fit arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from packing.fractional import MILLI_PER_GPU, NO_GPU, fits, share_of
from packing.jit import kernel
from simulator.traces.openb import OpenbNode, OpenbPod

MAX_GPUS_PER_NODE = 8


def affinity_tag(pod: OpenbPod) -> str:
    """The GPU-clustering baseline's pod class: share-gpu, k-gpu, or no-gpu."""
    if pod.num_gpu == 0:
        return "no-gpu"
    return "share-gpu" if pod.gpu_milli < MILLI_PER_GPU else f"{pod.num_gpu}-gpu"


AFFINITY_TAGS = ("share-gpu", *(f"{k}-gpu" for k in range(1, MAX_GPUS_PER_NODE + 1)))


class FillCluster:
    def __init__(self, nodes: Sequence[OpenbNode]) -> None:
        if not nodes:
            raise ValueError("the fill cluster needs at least one node")
        for n in nodes:
            if n.num_gpu > MAX_GPUS_PER_NODE:
                raise ValueError(f"node {n.name} has {n.num_gpu} GPUs; at most {MAX_GPUS_PER_NODE}")
        self.names = tuple(n.name for n in nodes)
        self.models = tuple(sorted({n.model for n in nodes}))
        self.model_idx = np.array([self.models.index(n.model) for n in nodes], dtype=np.int64)
        self.gpu_count = np.array([n.num_gpu for n in nodes], dtype=np.int64)
        # GPUs per node never change: summed once (the run asks after every pod).
        self._total_gpu_milli = int(self.gpu_count.sum()) * MILLI_PER_GPU
        self._used_gpu_milli = 0
        slots = np.arange(MAX_GPUS_PER_NODE)[None, :]
        self.gpu_left = np.where(slots < self.gpu_count[:, None], MILLI_PER_GPU, NO_GPU).astype(
            np.int64
        )
        self.cpu_cap = np.array([n.cpu_milli for n in nodes], dtype=np.int64)
        self.mem_cap = np.array([n.memory_mib for n in nodes], dtype=np.int64)
        self.cpu_left = self.cpu_cap.copy()
        self.free_total = self.gpu_count * MILLI_PER_GPU  # free GPU milli per node, kept in step
        # Per node, the most free milli on one GPU and the GPUs with a whole GPU free, kept in
        # step by ``place``: ``feasible`` answers one-GPU and whole-GPU pods from them.
        self.max_free = self.gpu_left.max(axis=1)
        self.idle = (self.gpu_left >= MILLI_PER_GPU).sum(axis=1)
        self.mem_left = self.mem_cap.copy()
        # GPU pods on each node by affinity tag (GPU-clustering baseline).
        self.affinity = np.zeros((len(nodes), len(AFFINITY_TAGS)), dtype=np.int64)
        # Bumped whenever a node changes, so policies can cache per-node derived values.
        self.version = np.zeros(len(nodes), dtype=np.int64)
        # One entry per bind, in order: an observer that saw one entry fewer knows the one node
        # that changed since without scanning `version` (`FragmentationLog`).
        self.placements: list[tuple[str, int, tuple[int, ...], int]] = []
        # Tie-break order among equally scored nodes (see simulator/policies/fill/base.py); the run
        # draws a random one with ``shuffle_rank``. Default: node order.
        self.rank = np.arange(len(nodes), dtype=np.int64)
        # `feasible`'s model test: per model, accepted (every model; per `gpu_spec` seen).
        self._any_model = np.ones(len(self.models), dtype=bool)
        self._allowed: dict[str, np.ndarray] = {}

    def shuffle_rank(self, rng: np.random.Generator) -> None:
        """Rank nodes by a random permutation assigned in name order (the published run's
        ``rand.Perm`` over name-sorted nodes)."""
        by_name = np.argsort(np.array(self.names), kind="stable")
        self.rank = np.empty(self.size, dtype=np.int64)
        self.rank[by_name] = rng.permutation(self.size)

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def total_gpu_milli(self) -> int:
        return self._total_gpu_milli

    @property
    def used_gpu_milli(self) -> int:
        return self._used_gpu_milli  # kept by ``place`` (asked after every pod)

    def gpu_free_total(self) -> np.ndarray:
        """Free GPU milli per node (maintained by ``place``; checked by ``violations``)."""
        return self.free_total

    def model_allowed(self, pod: OpenbPod) -> np.ndarray:
        if pod.num_gpu == 0 or not pod.gpu_spec:
            return np.ones(self.size, dtype=bool)
        return self._models_of(pod).take(self.model_idx)

    def feasible(self, pod: OpenbPod) -> np.ndarray:
        """Indices of nodes where the pod fits now (CPU, memory, GPU model, GPUs)."""
        gpus = pod.num_gpu
        need = 0  # `_feasible`'s GPU test: none; most free milli on one GPU; idle GPUs
        mode = _NO_GPU_TEST
        if gpus:
            share = share_of(gpus, pod.gpu_milli)  # refuses a malformed request
            if share.count == 1:  # `fits`: some GPU has >= max(milli, 0) free
                mode, need = _SHARE_TEST, max(share.milli, 0)
            elif share.milli == MILLI_PER_GPU:  # n GPUs with >= 1000 free
                mode, need = _WHOLE_TEST, share.count
            else:  # pragma: no cover - `share_of` refuses several GPUs that are not whole
                ok = self.model_allowed(pod) & fits(self.gpu_left, share)
                ok &= (self.cpu_left >= pod.cpu_milli) & (self.mem_left >= pod.memory_mib)
                return ok.nonzero()[0]
        allowed = self._any_model if not (gpus and pod.gpu_spec) else self._models_of(pod)
        return _feasible(self.cpu_left, self.mem_left, self.max_free, self.idle, self.model_idx,
                         allowed, pod.cpu_milli, pod.memory_mib, mode, need)  # fmt: skip

    def _models_of(self, pod: OpenbPod) -> np.ndarray:
        """Per model, whether the pod's `gpu_spec` accepts it (memoised per `gpu_spec`)."""
        got = self._allowed.get(pod.gpu_spec)
        if got is None:
            accepted = pod.gpu_spec.split("|")
            got = self._allowed[pod.gpu_spec] = np.array([m in accepted for m in self.models])
        return got

    def place(self, pod: OpenbPod, node: int, gpus: Sequence[int]) -> None:
        """Bind ``pod`` to ``node`` on ``gpus``; refuses anything that would over-allocate
        (and then changes nothing)."""
        if len(gpus) != pod.num_gpu or len(set(gpus)) != len(gpus):
            raise ValueError(f"pod {pod.name} needs {pod.num_gpu} distinct GPUs, got {list(gpus)}")
        if not 0 <= node < len(self.names):
            raise ValueError(f"pod {pod.name}: no node {node} (the cluster has {self.size})")
        taken = [int(g) for g in gpus]
        bad = _place(
            self.gpu_left, self.gpu_count, self.cpu_left, self.mem_left, self.max_free, self.idle,
            self.free_total, self.affinity, self.version,
            node, np.array(taken, np.int64), pod.gpu_milli, pod.cpu_milli, pod.memory_mib,
        )  # fmt: skip
        if bad == _SHORT_OF_HOST:
            raise ValueError(f"pod {pod.name} does not fit node {self.names[node]} (CPU/memory)")
        if bad >= 0:
            raise ValueError(
                f"pod {pod.name} cannot take {pod.gpu_milli} milli on GPU {taken[bad]} of node "
                f"{self.names[node]}"
            )
        self._used_gpu_milli += pod.gpu_milli * len(taken)
        self.placements.append((pod.name, node, tuple(taken), pod.gpu_milli))

    def violations(self) -> str | None:
        """Invariant check for debug mode: nothing over-allocated, ledger matches the arrays."""
        real = self.gpu_left[self.gpu_left != NO_GPU]
        if real.size and (real.min() < 0 or real.max() > MILLI_PER_GPU):
            return f"GPU milli left out of 0..{MILLI_PER_GPU}: min {real.min()}, max {real.max()}"
        if (self.cpu_left < 0).any() or (self.mem_left < 0).any():
            return "a node's CPU or memory is over-allocated"
        used = np.zeros_like(self.gpu_left)
        for _, node, gpus, milli in self.placements:
            for g in gpus:
                used[node, g] += milli
        expect = np.where(self.gpu_left == NO_GPU, NO_GPU, MILLI_PER_GPU - used)
        if not np.array_equal(expect, self.gpu_left):
            return "GPU milli left disagrees with the placements ledger"
        if not np.array_equal(np.where(expect == NO_GPU, 0, expect).sum(axis=1), self.free_total):
            return "free GPU milli per node disagrees with the placements ledger"
        if self._used_gpu_milli != self._total_gpu_milli - int(self.free_total.sum()):
            return "GPU milli in use disagrees with the free GPU milli per node"
        if not np.array_equal(self.gpu_left.max(axis=1), self.max_free) or not np.array_equal(
            (self.gpu_left >= MILLI_PER_GPU).sum(axis=1), self.idle
        ):
            return "most free milli / idle GPUs per node disagree with the GPU milli left"
        return None


_NO_GPU_TEST, _SHARE_TEST, _WHOLE_TEST = 0, 1, 2  # `_feasible`'s GPU tests


def _feasible_sample() -> tuple[object, ...]:
    ints = np.zeros(2, np.int64)
    return ints, ints, ints, ints, ints, np.ones(1, bool), 0, 0, _SHARE_TEST, 0


@kernel(_feasible_sample)
def _feasible(
    cpu_left: np.ndarray,
    mem_left: np.ndarray,
    max_free: np.ndarray,
    idle: np.ndarray,
    model_idx: np.ndarray,
    allowed: np.ndarray,
    cpu: int,
    mem: int,
    mode: int,
    need: int,
) -> np.ndarray:
    """The nodes (ascending) with the CPU and memory, an accepted model and, by `mode`, one
    GPU with `need` milli free or `need` idle GPUs: the array comparisons `feasible` made,
    in one pass."""
    n = len(cpu_left)
    out = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if cpu_left[i] < cpu or mem_left[i] < mem or not allowed[model_idx[i]]:
            continue
        if mode == _SHARE_TEST and max_free[i] < need:
            continue
        if mode == _WHOLE_TEST and idle[i] < need:
            continue
        out[m] = i
        m += 1
    return out[:m]


_PLACED, _SHORT_OF_HOST = -1, -2  # `_place`'s answers besides a refused GPU's position


def _place_sample() -> tuple[object, ...]:
    ints, table = np.zeros(1, np.int64), np.zeros((1, 9), np.int64)
    return table, ints, ints, ints, ints, ints, ints, table, ints.copy(), 0, ints[:0], 0, 0, 0


@kernel(_place_sample)
def _place(
    gpu_left: np.ndarray,
    gpu_count: np.ndarray,
    cpu_left: np.ndarray,
    mem_left: np.ndarray,
    max_free: np.ndarray,
    idle: np.ndarray,
    free_total: np.ndarray,
    affinity: np.ndarray,
    version: np.ndarray,
    node: int,
    gpus: np.ndarray,
    milli: int,
    cpu: int,
    mem: int,
) -> int:
    """`place`'s checks, then its writes (none when a check fails): `_PLACED`;
    `_SHORT_OF_HOST` (CPU or memory); or the position in `gpus` of the first GPU that is not
    on the node or has fewer than `milli` free. `node` is checked by the caller; the GPUs
    are distinct and as many as the pod asks (its affinity column)."""
    if cpu_left[node] < cpu or mem_left[node] < mem:
        return _SHORT_OF_HOST
    for k in range(len(gpus)):
        g = gpus[k]
        if not 0 <= g < gpu_count[node] or gpu_left[node, g] < milli:
            return k
    for k in range(len(gpus)):
        gpu_left[node, gpus[k]] -= milli
    if len(gpus):  # the summaries `feasible` reads: most free milli on a GPU, idle GPUs
        most = gpu_left[node, 0]
        whole = 0
        for j in range(gpu_left.shape[1]):
            v = gpu_left[node, j]
            most = max(most, v)
            if v >= MILLI_PER_GPU:
                whole += 1
        max_free[node] = most
        idle[node] = whole
        # GPU pods by affinity tag: share-gpu first, k-gpu at k (`AFFINITY_TAGS`)
        affinity[node, 0 if milli < MILLI_PER_GPU else len(gpus)] += 1
    free_total[node] -= milli * len(gpus)
    cpu_left[node] -= cpu
    mem_left[node] -= mem
    version[node] += 1
    return _PLACED
