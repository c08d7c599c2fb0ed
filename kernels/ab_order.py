"""The order of the two arms of an A/B, shared by the bundle's drivers."""

from __future__ import annotations

__all__ = ["baseline_first"]


def baseline_first(pair: int) -> bool:
    """A B, B A, B A, A B, then again: A B B A, B A A B. Each arm runs first as often as second, and a linear
    drift within four pairs hits both arms alike."""
    return pair % 4 in (0, 3)
