"""tensorize with implementations that call external functions on tiles of wider buffers:
an implementation buffer declared with strides ``(ldm, 1)`` takes a tile of any row
stride; one declared without strides takes only a dense tile."""
import pytest

import mlc
from mlc import ScheduleError, TensorIntrin, te
from mlc.ir.buffer import Buffer, BufferRegion
from mlc.ir.expr import Var, const
from mlc.ir.extern import AddressOf, address_of, call_extern
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Block, BlockRealize, Evaluate, PrimFunc
from mlc.schedules import Schedule


def _copy_intrin(name: str, strided: bool) -> str:
    """Register ``name``: a 4 x 4 copy from A into C, implemented by the call ``f(&C, &A)``."""
    A = te.placeholder((4, 4), "float32", name="A")
    C = te.compute((4, 4), lambda i, j: A[i, j], name="C")
    strides = lambda b: (Var(b + "_ldm"), const(1)) if strided else ()
    Ai, Ci = (Buffer(n, (const(4), const(4)), "float32", "global", strides(n)) for n in ("A", "C"))
    body = Evaluate(call_extern("int32", "f", address_of(Ci[0, 0]), address_of(Ai[0, 0])))
    root = Block("root", (), (BufferRegion.full(Ai),), (BufferRegion.full(Ci),), body)
    impl = PrimFunc((Ai, Ci), BlockRealize((), const(True, "bool"), root), (("tir.noalias", True),))
    TensorIntrin.register(name, [A, C], impl, override=True)
    return name


def _tiled_copy():
    A = te.placeholder((16, 16), "float32", name="A")
    B = te.compute((16, 16), lambda i, j: A[i, j], name="B")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    i, j = sch.get_loops(sch.get_block("B"))
    i0, i1 = sch.split(i, [None, 4])
    j0, j1 = sch.split(j, [None, 4])
    sch.reorder([i0, j0, i1, j1])
    return sch, i1


def test_a_strided_implementation_takes_a_tile_of_a_wider_buffer():
    sch, tile = _tiled_copy()
    sch.tensorize(tile, _copy_intrin("copy4x4_strided", strided=True))
    addresses = [n for n in pre_order_nodes(sch.mod["main"].body) if isinstance(n, AddressOf)]
    assert [a.load.buffer.name for a in addresses] == ["B", "A"]  # the 16 x 16 buffers themselves
    assert "T.address_of(A[vi_o * 4, vj_o * 4])" in sch.mod["main"].script()


def test_a_dense_implementation_refuses_a_tile_of_a_wider_buffer():
    sch, tile = _tiled_copy()
    with pytest.raises(ScheduleError, match="dimension 1 has extent 16, not the tile's 4"):
        sch.tensorize(tile, _copy_intrin("copy4x4_dense", strided=False))


def test_a_strided_implementation_still_needs_the_tile_in_the_last_dimensions():
    A = te.placeholder((16, 16), "float32", name="A")
    B = te.compute((16, 16), lambda i, j: A[j, i], name="B")  # reads A's tile transposed
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    i, j = sch.get_loops(sch.get_block("B"))
    i0, i1 = sch.split(i, [None, 4])
    j0, j1 = sch.split(j, [None, 4])
    sch.reorder([i0, j0, i1, j1])
    with pytest.raises(ScheduleError):
        sch.tensorize(i1, _copy_intrin("copy4x4_strided", strided=True))


@pytest.mark.parametrize("strided", [True, False])
def test_rows_padded_by_storage_align_are_taken_by_a_strided_implementation_only(strided):
    sch, tile = _tiled_copy()
    copy = sch.cache_read(sch.get_block("B"), 0, "shared")
    sch.storage_align(copy, 0, 0, 32, 8)  # A_shared's rows 40 apart
    name = _copy_intrin(f"copy4x4_{'strided' if strided else 'dense'}", strided)
    if strided:
        sch.tensorize(tile, name)
        assert "T.address_of(A_shared[vi_o * 4, vj_o * 4])" in sch.mod["main"].script()
    else:
        with pytest.raises(ScheduleError, match="A_shared.*explicit strides"):
            sch.tensorize(tile, name)
