"""The FGD paper's expected GPU fragmentation (Weng et al., USENIX ATC '23), vectorised.

For a target workload of task shapes t with popularity p_t (sum 1), a node's fragmentation is the
expected GPU milli a random task could not use there:

    F_t(node) = free GPU milli on GPUs with less than m_t free   if the node can host t
              = all free GPU milli                               otherwise (or t needs no GPU)
    frag(node) = sum_t p_t F_t(node)

"Can host" means at least n_t GPUs each with >= m_t milli free, enough free CPU, and the node's
GPU model allowed for t. Rewriting with big_m = milli on GPUs with >= m free and
cnt_m = number of such GPUs:

    frag = total_free - sum_m W_m(cnt_m, cpu_free, model) * big_m

where W_m sums p_t over GPU shapes with m_t = m, n_t <= cnt_m, c_t <= cpu_free and the model
allowed. W is a lookup table built once per workload, so scoring a placement is a handful of
array operations over (candidates x distinct m), whatever the number of shapes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from packing.errors import PackingError
from packing.fractional import MILLI_PER_GPU, NO_GPU
from packing.jit import inner, kernel


@dataclass(frozen=True, order=True)
class TaskShape:
    """One kind of task: CPU milli, GPU milli per GPU, GPU count, allowed GPU models ("" = any).

    ``gpu_models`` is a ``|``-separated list as in Alibaba's ``gpu_spec``.
    """

    cpu_milli: int
    gpu_milli: int
    num_gpu: int
    gpu_models: str = ""

    def allows(self, model: str) -> bool:
        return not self.gpu_models or model in self.gpu_models.split("|")


@dataclass(frozen=True)
class TargetWorkload:
    """Task shapes and their popularity (weights sum to 1)."""

    shapes: tuple[TaskShape, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.shapes) != len(self.weights) or not self.shapes:
            raise PackingError(
                "a target workload needs one weight per shape and at least one shape"
            )
        if any(w < 0 for w in self.weights) or abs(sum(self.weights) - 1.0) > 1e-6:
            raise PackingError(
                f"target workload weights must be >= 0 and sum to 1, got {sum(self.weights)}"
            )


def typical_workload(tasks: Iterable[TaskShape], popularity_pct: float = 95.0) -> TargetWorkload:
    """The paper's "typical pods": most frequent shapes covering ``popularity_pct`` % of tasks.

    Shapes are ranked by count (ties: larger CPU, GPU milli, count, model first) and added one at
    a time until their cumulative share reaches the threshold; weights are renormalised to 1.
    """
    counts = Counter(tasks)
    total = sum(counts.values())
    if total == 0:
        raise PackingError("cannot build a target workload from zero tasks")
    ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    chosen: list[tuple[TaskShape, int]] = []
    cum = 0
    for shape, n in ranked:
        if cum >= popularity_pct * total / 100.0:
            break
        chosen.append((shape, n))
        cum += n
    return TargetWorkload(tuple(s for s, _ in chosen), tuple(n / cum for _, n in chosen))


def _fill_sample() -> tuple[np.ndarray, ...]:
    cells = np.array([[0, 1, 0]], np.int64)
    return np.zeros((1, 1, 3, 2)), np.ones((1, 1), np.bool_), cells, np.ones(1)


@kernel(_fill_sample)
def _fill_table(tab, allowed, shape_cells, weights):  # pragma: no cover (compiled)
    """For each model i and each shape t (in order) that it allows and whose GPU count fits
    the table: tab[i, m_t, n_t:, c_t + 1:] += p_t, cell by cell; each cell adds the same
    weights in the same order as numpy's slice adds, so the same sums, bit for bit. Shapes
    asking more GPUs than the table holds are left out (no cell has that many)."""
    for i in range(tab.shape[0]):
        for t in range(len(weights)):
            m, n, c = shape_cells[t, 0], shape_cells[t, 1], shape_cells[t, 2]
            if allowed[i, t] and n < tab.shape[2]:
                for cnt in range(n, tab.shape[2]):
                    for k in range(c + 1, tab.shape[3]):
                        tab[i, m, cnt, k] += weights[t]


class FragTable:
    """Precomputed W_m(cnt, cpu, model) for one target workload and a set of GPU models."""

    def __init__(self, workload: TargetWorkload, models: Sequence[str], max_gpus: int = 8) -> None:
        self.models = tuple(models)
        self.max_gpus = max_gpus
        gpu = [
            (s, w)
            for s, w in zip(workload.shapes, workload.weights, strict=True)
            if s.gpu_milli > 0
        ]
        # Distinct per-GPU milli values (the only thresholds that matter).
        self.milli = np.array(sorted({s.gpu_milli for s, _ in gpu}), dtype=np.int64)
        self.cpu_grid = np.array(sorted({s.cpu_milli for s, _ in gpu}), dtype=np.int64)
        m_idx = {int(m): i for i, m in enumerate(self.milli)}
        c_idx = {int(c): i for i, c in enumerate(self.cpu_grid)}
        # tab[model, m, cnt, k] = sum of p_t with m_t = m, n_t <= cnt, c_t <= cpu_grid[k - 1].
        tab = np.zeros((len(self.models), len(self.milli), max_gpus + 1, len(self.cpu_grid) + 1))
        lists = [s.gpu_models.split("|") if s.gpu_models else None for s, _ in gpu]
        allowed = np.array(
            [[ok is None or model in ok for ok in lists] for model in self.models], np.bool_
        ).reshape(len(self.models), len(gpu))
        shape_cells = np.array(
            [(m_idx[s.gpu_milli], s.num_gpu, c_idx[s.cpu_milli]) for s, _ in gpu], np.int64
        ).reshape(len(gpu), 3)
        weights = np.array([w for _, w in gpu], np.float64)
        _fill_table(tab, allowed, shape_cells, weights)
        self.tab = tab
        self._flat = tab.reshape(-1)
        per_m = tab.shape[2] * tab.shape[3]
        self._col_offset = np.arange(len(self.milli), dtype=np.int64) * per_m

    @property
    def flat(self) -> np.ndarray:
        """`tab` flattened (C order): the cells kernels gather from."""
        return self._flat

    def model_index(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise PackingError(
                f"GPU model {model!r} not in the fragmentation table; "
                f"known: {', '.join(self.models)}"
            ) from None

    def counts(self, gpu_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cnt, big), each (K, M): GPUs with >= m free, and the free milli on them."""
        # GPUs first, (G, K, M): the sums run over the outer axis, row by row of a contiguous
        # block, not over a short inner axis of 8 per (node, threshold) (2-2.5x faster on a
        # fleet's rows; integers, so the same sums).
        g = np.ascontiguousarray(np.where(gpu_left == NO_GPU, 0, gpu_left).T)[:, :, None]
        ge = g >= self.milli
        # `np.add.reduce` is what `.sum` runs, without its Python wrapper (this runs per bind);
        # `ge * g` is `np.where(ge, g, 0)` for integers.
        return np.add.reduce(ge, axis=0), np.add.reduce(ge * g, axis=0)

    def frag_from_counts(
        self,
        total: np.ndarray,
        cnt: np.ndarray,
        big: np.ndarray,
        cpu_left: np.ndarray,
        model_idx: np.ndarray,
        *,
        check: bool = True,
    ) -> np.ndarray:
        """frag = total - sum_m W_m(cnt_m, cpu, model) * big_m, for K states at once.
        `check=False`: the caller guarantees counts in 0..max_gpus (skips one pass)."""
        k = self.cpu_grid.searchsorted(cpu_left, side="right")
        cnt = np.asarray(cnt)
        if check and cnt.size and np.maximum.reduce(cnt, axis=None) > self.max_gpus:
            # the flat take below would not catch it
            raise PackingError(f"more than {self.max_gpus} GPUs for the fragmentation table")
        # tab[model, m, cnt, k] as one flat take (a 4-way fancy index costs ~1.4x as much).
        _, m, g, c = self.tab.shape
        flat = cnt * c
        flat += self._col_offset
        flat += (np.asarray(model_idx) * (m * g * c) + k)[:, None]
        w = self._flat.take(flat)
        w *= big
        # `np.add.reduce` is `.sum` without its Python wrapper: the same sums, bit for bit.
        return np.asarray(total - np.add.reduce(w, axis=1), dtype=np.float64)

    def node_frag(
        self, gpu_left: np.ndarray, cpu_left: np.ndarray, model_idx: np.ndarray
    ) -> np.ndarray:
        """Expected fragmentation (GPU milli) of each node state; shapes (K, G), (K,), (K,)."""
        gpu_left = np.atleast_2d(gpu_left)
        total = np.add.reduce(np.where(gpu_left == NO_GPU, 0, gpu_left), axis=1)
        cnt, big = self.counts(gpu_left)
        if np.ndim(cpu_left) != 1 or np.ndim(model_idx) != 1:  # scalars: one node state
            cpu_left, model_idx = np.atleast_1d(cpu_left), np.atleast_1d(model_idx)
        return self.frag_from_counts(total, cnt, big, cpu_left, model_idx)

    def frag_after_share(
        self,
        gpu_left: np.ndarray,
        cpu_left: np.ndarray,
        model_idx: np.ndarray,
        gpu_value: np.ndarray,
        milli: int,
        cpu_milli: int,
    ) -> np.ndarray:
        """Fragmentation after taking ``milli`` from one GPU that had ``gpu_value`` free.

        Row i of the inputs is a node state; ``gpu_value[i]`` the free milli of the GPU chosen.
        Only thresholds in (value - milli, value] move, so the new counts come from the old ones.
        """
        total = np.where(gpu_left == NO_GPU, 0, gpu_left).sum(axis=1)
        cnt, big = self.counts(gpu_left)
        v = gpu_value[:, None]
        after = v - milli
        was = v >= self.milli[None, :]
        now = after >= self.milli[None, :]
        cnt = cnt - was + now
        big = big - np.where(was, v, 0) + np.where(now, after, 0)
        return self.frag_from_counts(total - milli, cnt, big, cpu_left - cpu_milli, model_idx)


def fgd_score(frag_before: np.ndarray, frag_after: np.ndarray) -> np.ndarray:
    """The paper's node score: int(100 * sigmoid((before - after) / 1000)), higher is better.

    Truncation to integers is deliberate: it reproduces the published scorer, whose ties are then
    broken at random by the scheduler.
    """
    x = (np.asarray(frag_before) - np.asarray(frag_after)) / MILLI_PER_GPU
    return np.floor(100.0 / (1.0 + np.exp(-x))).astype(np.int64)


def frag_increase(
    table: FragTable,
    gpu_left: Sequence[int],
    cpu_left: int,
    model: str,
    gpus: Sequence[int],
    milli: int,
    cpu_milli: int = 0,
) -> float:
    """Fragmentation increase (GPU milli) of placing ``milli`` on each GPU in ``gpus`` of a node."""
    before = np.array([gpu_left], dtype=np.int64)
    after = before.copy()
    for g in gpus:
        if after[0, g] == NO_GPU or after[0, g] < milli:
            raise PackingError(f"GPU {g} has {after[0, g]} milli free, cannot take {milli}")
        after[0, g] -= milli
    mi = np.array([table.model_index(model)])
    f0 = table.node_frag(before, np.array([cpu_left]), mi)[0]
    f1 = table.node_frag(after, np.array([cpu_left - cpu_milli]), mi)[0]
    return float(f1 - f0)


@inner
def add_reduce(a: np.ndarray, lo: int, n: int) -> float:  # pragma: no cover (compiled)
    """`np.add.reduce` of the n floats a[lo:lo + n] in numpy's order, for kernels that replace
    a reduce over a contiguous axis (`frag_from_counts`' sum over the thresholds): 0.0 plus
    numpy's pairwise sum (n < 8: left to right; n <= 128: eight running sums over blocks of
    8, combined ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the n % 8 left one by
    one; longer: the two halves, the first a multiple of 8, summed so and added)."""
    return 0.0 + _pairwise(a, lo, n)


@inner
def _pairwise(a: np.ndarray, lo: int, n: int) -> float:  # pragma: no cover (compiled)
    """numpy's `pairwise_sum`: its recursion on halves above 128 as a loop over an explicit
    stack (a recursive kernel crashes when numba loads it from its disk cache)."""
    if n <= _BLOCK:
        return _pairwise_block(a, lo, n)
    # Frames: (start, length, split, stage, left sum); stage 0: new, 1: left half asked for,
    # 2: right half asked for. Depth <= 64 (the length halves each level).
    start, length = np.empty(64, np.int64), np.empty(64, np.int64)
    split, stage, left = np.empty(64, np.int64), np.zeros(64, np.int64), np.empty(64)
    top, start[0], length[0] = 0, lo, n
    ret = 0.0
    while True:
        if length[top] <= _BLOCK:
            ret = _pairwise_block(a, start[top], length[top])
            top -= 1
        else:
            n2 = length[top] // 2
            split[top] = n2 - n2 % 8
            stage[top] = 1
            top += 1
            start[top], length[top], stage[top] = start[top - 1], split[top - 1], 0
            continue
        while True:  # hand `ret` up to the frame that asked for it
            if top < 0:
                return ret
            if stage[top] == 1:
                left[top], stage[top] = ret, 2
                top += 1
                start[top] = start[top - 1] + split[top - 1]
                length[top], stage[top] = length[top - 1] - split[top - 1], 0
                break
            ret = left[top] + ret
            top -= 1


_BLOCK = 128  # numpy's PW_BLOCKSIZE


@inner
def _pairwise_block(a: np.ndarray, lo: int, n: int) -> float:  # pragma: no cover (compiled)
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res
