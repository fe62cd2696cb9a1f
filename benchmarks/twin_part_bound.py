"""How often the twin's model of kube-scheduler alone (`kube-default-queued`) ends a slice with
part-bound gangs (members bound, the rest never: kube-scheduler has no gang semantics), over
many seeds and arrival jitters. No cluster is started.

    python3 benchmarks/twin_part_bound.py --seeds 500 --jitter 0,30,100,300,600

`--jitter` is in trace seconds (wall x speedup; the 200-job slice runs at speedup 300), as
`benchmarks/twin.py --model-seeds --jitter`: each seed delays every arrival by a uniform draw
below it. Prints, per jitter, the seeds whose run ends with part-bound gangs, with how many
gangs are part-bound and how many completed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twin import workload  # noqa: E402

from devcluster.twin.compare import TWIN_OPTIONS, jittered, simulate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="synthetic200",
                    choices=("synthetic200", "tiresias", "synthetic20"))  # fmt: skip
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--jitter", default="0", help="comma list of trace seconds")
    args = ap.parse_args()
    try:
        jitters = [float(x) for x in args.jitter.split(",")]
    except ValueError:
        print(f"--jitter {args.jitter!r}: want a comma list of trace seconds", file=sys.stderr)
        return 2
    if args.seeds < 1 or any(j < 0 for j in jitters):
        print("--seeds must be >= 1 and every --jitter >= 0", file=sys.stderr)
        return 2
    w, speedup = workload(args.workload)
    n_gangs = sum(1 for j in w.jobs if j.min_member > 1)
    for jitter in jitters:
        opts = replace(TWIN_OPTIONS, jitter_s=jitter)
        t0 = time.perf_counter()
        hits = []
        for seed in range(args.seeds):
            run = simulate("default", jittered(w, seed, jitter), seed, speedup, opts)
            part = int(run.metrics["partial_gang_deadlocks"])  # type: ignore[call-overload]
            if part:
                hits.append(f"seed {seed}: {part} part-bound, {len(run.gangs_done)}/{n_gangs} "
                            "completed")  # fmt: skip
        print(f"{args.workload} jitter {jitter:g} s ({jitter / speedup:.2f} s wall): "
              f"{len(hits)}/{args.seeds} seeds end part-bound "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
        for h in hits:
            print(f"  {h}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
