"""MIG calls behind one adapter: nvidia-ml-py's wrappers changed signature between releases.

`nvmlDeviceGetGpuInstancePossiblePlacements` takes a caller-allocated ctypes array and a count on
11.x-13.x (two-argument forms raise TypeError); `nvmlDeviceGetGpuInstanceProfileInfo` takes
`version=` only from 12.x. We inspect the signature once and catch TypeError as a last resort.
"""

from __future__ import annotations

import ctypes
import inspect
from collections.abc import Callable
from typing import Any

# A start per memory slice is the most any GPU offers (8 memory slices on A100/H100/H200/B200).
MAX_PLACEMENTS = 8


def _params(fn: Callable[..., Any]) -> list[str]:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def possible_placements(nvml: Any, handle: Any, profile_id: int) -> list[tuple[int, int]] | None:
    """(start, size) pairs the driver allows for `profile_id`, or None when it cannot tell us."""
    fn = getattr(nvml, "nvmlDeviceGetGpuInstancePossiblePlacements", None)
    if fn is None:
        return None
    params = _params(fn)
    try:
        if len(params) >= 4:
            arr = (nvml.c_nvmlGpuInstancePlacement_t * MAX_PLACEMENTS)()
            count = ctypes.c_uint(MAX_PLACEMENTS)
            fn(handle, profile_id, arr, ctypes.byref(count))
            return [(int(arr[i].start), int(arr[i].size)) for i in range(int(count.value))]
        # A hypothetical future wrapper that allocates for us and returns the list.
        out = fn(handle, profile_id)
        return [(int(p.start), int(p.size)) for p in out]
    except TypeError:
        return None


def profile_info(nvml: Any, handle: Any, profile_index: int) -> Any:
    """`GetGpuInstanceProfileInfo` as the v2 struct where the wrapper has `version=`, else v1;
    None when the wrapper predates MIG."""
    fn = getattr(nvml, "nvmlDeviceGetGpuInstanceProfileInfo", None)
    if fn is None:
        return None
    if "version" in _params(fn):
        return fn(handle, profile_index, version=2)
    return fn(handle, profile_index)


def profile_name(info: Any) -> str:
    """'MIG 3g.40gb' (v2 struct) -> '3g.40gb'; v1 structs carry no name."""
    raw = getattr(info, "name", b"")
    name = raw.decode() if isinstance(raw, bytes) else str(raw)
    return name.removeprefix("MIG ").strip()
