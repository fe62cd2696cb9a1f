"""Verdict sentences: one per question, naming the best policy per workload with its figure and
the runner-up's, so a reader gets the answer before any chart."""

from __future__ import annotations

from simulator.report.document import Row


def _fmt(value: float, unit: str) -> str:
    text = f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}".rstrip()


def ranking(rows: list[Row], key: str, higher_better: bool) -> list[tuple[str, float]]:
    """(policy, value) best first; equal values keep the rows' order (stable)."""
    pairs = [(str(r["policy"]), float(r[key])) for r in rows if key in r]
    return sorted(pairs, key=lambda p: -p[1] if higher_better else p[1])


def sentence(question: str, rows: list[Row], key: str, unit: str, *, higher_better: bool,
             group: str = "workload") -> str:
    """'<question> <group>: <best> (<value>; next <policy> <value>). ...'; equal leaders are
    named together as a tie."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(str(r.get(group, "")), []).append(r)
    clauses = []
    for name, part in groups.items():
        ranked = ranking(part, key, higher_better)
        if not ranked:
            continue
        top = ranked[0][1]
        leaders = [p for p, v in ranked if v == top]
        rest = [(p, v) for p, v in ranked if v != top]
        who = " and ".join(leaders) + (" tie" if len(leaders) > 1 else "")
        tail = f"; next {rest[0][0]} {_fmt(rest[0][1], unit)}" if rest else ""
        where = f"On {name}: " if name else ""
        clauses.append(f"{where}{who} ({_fmt(top, unit)}{tail})")
    return f"{question} " + ("; ".join(clauses) if clauses else "no runs") + "."
