"""compact_gpu_buffers' box of a buffer (``_box``): what one iteration touches, each access
counted once however often it repeats."""
import importlib

from hypothesis import given, settings, strategies as st

from mlc.ir.buffer import Buffer
from mlc.ir.expr import Var, const
from mlc.ir.tir import Evaluate, For

gpu_buffers = importlib.import_module("mlc.passes.tir.gpu_buffers")


def _loop(name: str, extent: int) -> For:
    return For(Var(name, "int32"), const(0, "int32"), const(extent, "int32"), "serial", Evaluate(const(0, "int32")))


@settings(max_examples=30, deadline=None)
@given(pool=st.lists(st.tuples(st.integers(0, 9), st.integers(1, 7)), min_size=1, max_size=4),
       picks=st.lists(st.integers(0, 3), min_size=1, max_size=12), size=st.integers(16, 33))
def test_the_box_holds_every_access_and_relaxes_each_alike_access_once(pool, picks, size):
    # accesses ``B[offset + i]`` over loops of their extent, drawn with repeats from a pool
    loops = [_loop(f"i{k}", extent) for k, (_, extent) in enumerate(pool)]
    accesses = [((const(pool[k][0], "int32") + loops[k].loop_var,), (loops[k],), ())
                for k in (p % len(pool) for p in picks)]
    buffer = Buffer("B", (const(size, "int32"),), "float32", "shared")
    touched = {pool[k][0] + i for k in (p % len(pool) for p in picks) for i in range(pool[k][1])}
    relaxed = []
    real = gpu_buffers.relax
    gpu_buffers.relax = lambda e, dom: relaxed.append(e) or real(e, dom)
    try:
        ((corner, extent),) = gpu_buffers._box(buffer, accesses, [])
    finally:
        gpu_buffers.relax = real
    assert corner.value <= min(touched) and max(touched) < corner.value + extent <= size
    if extent < size:  # the smallest box (a box of the whole buffer is kept as it is)
        assert (corner.value, extent) == (min(touched), max(touched) - min(touched) + 1)
    assert len(relaxed) == len({p % len(pool) for p in picks})  # alike accesses once
