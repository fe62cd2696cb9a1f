"""Kubernetes resource quantities ("500m", "2Gi", "1e3") to integers.

The grammar is Kubernetes' own (`<signedNumber><suffix>`, the suffix a binary SI, decimal SI or
`e<int>` exponent), checked before any arithmetic, and the value is bounded like the apiserver
bounds it (2^63 - 1): "1e9999999" is refused at once instead of raising `decimal.Overflow`
(a 500) or, below the context's exponent limit, building a million-digit integer (a 48 s stall
of every thread for "1e999999").
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip
# The number, then at most one suffix; an exponent is a suffix of its own ("1e3", not "1e3k").
_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]{1,4}))?"
)
MAX_QUANTITY = 2**63 - 1  # what the apiserver accepts (resource.Quantity's int64 bound)


def parse_quantity(value: object, what: str) -> Decimal:
    """A quantity as an exact Decimal; ValueError naming `what` and the bad value."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a quantity, got {value!r}")
    if isinstance(value, int | float):
        text = str(value)
        result = Decimal(text) if abs(value) <= MAX_QUANTITY else Decimal("Infinity")
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        m = _QUANTITY.fullmatch(text) if len(text) <= 64 else None
        if m is None:
            raise ValueError(f"{what}: {_shown(value)} is not a Kubernetes quantity")
        number, suffix, exponent = m.groups()
        try:
            scale = Decimal(f"1e{exponent}") if exponent else Decimal(str(_SUFFIX[suffix or ""]))
            result = Decimal(number) * scale
        except InvalidOperation:  # the grammar admits only finite numbers: not reached
            raise ValueError(f"{what}: {_shown(value)} is not a Kubernetes quantity") from None
    else:
        raise ValueError(f"{what}: expected a quantity, got {_shown(value)}")
    if not result.is_finite() or result < 0 or result > MAX_QUANTITY:
        raise ValueError(f"{what}: {_shown(value)} must be a finite quantity 0..2^63-1")
    return result


def _shown(value: object) -> str:
    """The bad value for a one-line message: at most 40 characters of it."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def to_int(value: object, what: str) -> int:
    """A count (GPUs, milli, MiB): must be a whole number."""
    q = parse_quantity(value, what)
    if q != q.to_integral_value():
        raise ValueError(f"{what}: {_shown(value)} must be a whole number")
    return int(q)


# CPU millicores are summed per node into 64-bit columns (the policy's fleet index): each value
# is held to 2^53 (9e12 cores, more than any node), so sums of many pods cannot overflow.
MAX_MILLI = 2**53


def to_milli(value: object, what: str) -> int:
    """CPU in millicores, rounded up as Kubernetes does; at most `MAX_MILLI` (a larger request
    fits nowhere either way)."""
    milli = (parse_quantity(value, what) * 1000).to_integral_value(rounding="ROUND_CEILING")
    return min(int(milli), MAX_MILLI)
