"""`tessera mig profiles|layouts --gpu MODEL`: the MIG catalogue and every valid layout."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer

from cli.errors import exits_2_on_bad_input
from packing.catalogue import MODELS, GpuModel, get_model
from packing.mig import MigInstance, valid_layouts

GPU_HELP = f"GPU model: a key ({', '.join(MODELS)}) or the name NVML/GFD reports."


def profiles_doc(m: GpuModel) -> dict[str, Any]:
    return {
        "gpu": m.key, "memory_slices": m.memory_slices, "compute_slices": m.compute_slices,
        "memory_mib": m.memory_mib, "inferred": m.inferred,
        "profiles": [
            {"name": p.name, "id": p.id, "compute_slices": p.compute_slices,
             "memory_slices": p.memory_slices, "max_count": p.max_count,
             "placements": list(p.placements), "memory_mib": p.memory_mib,
             "media_extension": p.media_extension}
            for p in m.profiles
        ],
    }


def slice_map(m: GpuModel, layout: tuple[MigInstance, ...]) -> str:
    """One cell per memory slice: the profile's compute size ("3g") or "." when free."""
    cells = ["."] * m.memory_slices
    for inst in layout:
        p = m.profile(inst.profile)
        for t in range(inst.start, inst.start + p.memory_slices):
            cells[t] = p.name.split(".")[0] + ("+" if p.media_extension else "")
    return "[" + " ".join(c.ljust(3) for c in cells) + "]"


def _emit(doc: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(doc).decode() + "\n")


def register(app: typer.Typer) -> None:
    mig = typer.Typer(help="MIG geometry: profiles and valid layouts per GPU model.",
                      no_args_is_help=True)
    app.add_typer(mig, name="mig")

    @mig.command("profiles")
    @exits_2_on_bad_input
    def profiles(
        gpu: Annotated[str, typer.Option(help=GPU_HELP)],
        json_out: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    ) -> None:
        """Every MIG profile of GPU: ID, compute and memory slices, max count, placements."""
        m = get_model(gpu)
        if json_out:
            _emit(profiles_doc(m))
            return
        note = " (geometry inferred from the H100 pattern)" if m.inferred else ""
        print(f"{m.key}: {m.memory_slices} memory slices, {m.compute_slices} compute slices, "
              f"{m.memory_mib} MiB{note}")
        rows = [("PROFILE", "ID", "COMPUTE", "MEMORY", "MAX", "STARTS", "MiB")]
        rows += [(p.name, str(p.id), str(p.compute_slices), str(p.memory_slices),
                  str(p.max_count), ",".join(map(str, p.placements)), str(p.memory_mib))
                 for p in m.profiles]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())

    @mig.command("layouts")
    @exits_2_on_bad_input
    def layouts(
        gpu: Annotated[str, typer.Option(help=GPU_HELP)],
        maximal: Annotated[bool, typer.Option(help="Only layouts to which nothing fits.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    ) -> None:
        """Every valid set of MIG instances (profile@start) on an empty GPU."""
        m = get_model(gpu)
        lays = valid_layouts(m, maximal=maximal)
        if json_out:
            _emit({"gpu": m.key, "maximal": maximal, "count": len(lays), "layouts": [
                [{"profile": i.profile, "start": i.start} for i in lay] for lay in lays]})
            return
        for lay in lays:
            text = " + ".join(f"{i.profile}@{i.start}" for i in lay) or "(empty)"
            print(f"{slice_map(m, lay)}  {text}")
        print(f"{len(lays)} {'maximal ' if maximal else ''}layouts on {m.key}")
