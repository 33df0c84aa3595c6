"""Fresh names: a name made unique among those already taken.

>>> taken = {"x", "x_1"}
>>> unique_name("x", taken), unique_name("y", taken), sorted(taken)
('x_2', 'y', ['x', 'x_1', 'x_2', 'y'])
>>> unique_name("fused", {"fused"}, separator="")
'fused1'
"""
from __future__ import annotations

__all__ = ["unique_name"]


def unique_name(name: str, taken: set, separator: str = "_") -> str:
    """``name``, or ``name_1``, ``name_2``, ... (``separator`` between) if taken; the result
    is added to ``taken``."""
    candidate, n = name, 0
    while candidate in taken:
        n += 1
        candidate = f"{name}{separator}{n}"
    taken.add(candidate)
    return candidate
