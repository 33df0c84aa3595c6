"""Cooperative fetches into shared memory, shared by the GPU rules (the default matmul's and
the warp-tiled one's).

>>> VECTOR_LANES
4
"""
from __future__ import annotations

__all__ = ["VECTOR_LANES", "vector_fetch"]

#: Elements per thread of a spatial block whose size they divide: one aligned vector
#: (``float4``) per thread.
VECTOR_LANES = 4


def vector_fetch(sch, fused, threads: int):
    """A cooperative fetch into shared memory, each thread copying one aligned vector of
    :data:`VECTOR_LANES` elements a step (``float4`` loads) where ``vectorize`` proves it
    (the tile a whole number of steps: a partial step's predicate would hide the tile's
    bounds from the shared buffer's compaction)."""
    _, t, lanes = sch.split(fused, [None, threads, VECTOR_LANES])
    sch.vectorize(lanes)
    sch.bind(t, "threadIdx.x")
    return t
