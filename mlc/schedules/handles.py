"""The handles a Schedule gives out and its trace records: blocks, loops and sampled integers."""
from __future__ import annotations

__all__ = ["BlockRV", "LoopRV", "ExprRV"]


class BlockRV:
    """A handle to a block; stays valid while the block exists (renames are followed)."""
    __slots__ = ("__weakref__",)

    def __repr__(self) -> str:
        return f"BlockRV({id(self):#x})"


class LoopRV:
    """A handle to a loop; invalid once a primitive replaces the loop (split, fuse...)."""
    __slots__ = ("__weakref__",)

    def __repr__(self) -> str:
        return f"LoopRV({id(self):#x})"


class ExprRV(int):
    """A sampled integer: behaves as an int, and the trace knows where it came from."""
    __slots__ = ()
