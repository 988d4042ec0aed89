"""Small pure helpers of the report: medians, ranges, ratios, units."""

import statistics
from collections.abc import Iterable


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: Iterable[float], digits: int = 0) -> str:
    """`median (min-max)` of the values, or just the value when there is one."""
    items = sorted(values)
    mid = statistics.median(items)
    if len(items) == 1 or items[0] == items[-1]:
        return f"{mid:.{digits}f}"
    return f"{mid:.{digits}f} ({items[0]:.{digits}f}-{items[-1]:.{digits}f})"


def ratio(measured: float, reference: float) -> float:
    """measured / reference; a zero reference has no ratio."""
    if reference <= 0:
        raise ValueError(f"no ratio to a reference of {reference}")
    return measured / reference


def megabytes(size: int) -> str:
    """Bytes as decimal megabytes (10^6 bytes) with two decimals."""
    return f"{size / 1e6:.2f} MB"


def mebibytes(kib: float) -> str:
    """KiB as MiB with one decimal."""
    return f"{kib / 1024:.1f} MiB"
