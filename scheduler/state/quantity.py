"""Kubernetes resource quantities ("500m", "2Gi", "1e3") to integers."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


def parse_quantity(value: object, what: str) -> Decimal:
    """A quantity as an exact Decimal; ValueError naming `what` and the bad value."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a quantity, got {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: expected a quantity, got {value!r}")
    text = value.strip()
    for suffix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P"):
        if text.endswith(suffix):
            number, mult = text[: -len(suffix)], Decimal(str(_SUFFIX[suffix]))
            break
    else:
        number, mult = text, Decimal(1)
    try:
        result = Decimal(number) * mult
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a Kubernetes quantity") from None
    if not result.is_finite() or result < 0:
        raise ValueError(f"{what}: {value!r} must be a finite quantity >= 0")
    return result


def to_int(value: object, what: str) -> int:
    """A count (GPUs, milli, MiB): must be a whole number."""
    q = parse_quantity(value, what)
    if q != q.to_integral_value():
        raise ValueError(f"{what}: {value!r} must be a whole number")
    return int(q)


def to_milli(value: object, what: str) -> int:
    """CPU in millicores, rounded up as Kubernetes does."""
    return int((parse_quantity(value, what) * 1000).to_integral_value(rounding="ROUND_CEILING"))
