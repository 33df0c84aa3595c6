"""tensorize refuses every kind of mismatch between the block and the intrinsic's description.

Each test registers a small 4-wide intrinsic written in ``te``, builds a
program that differs from it in exactly one way (a constant, a dtype, an
extent, a predicate, a buffer playing two roles, an inconsistent offset, a
variable), and checks that ``tensorize`` raises a ScheduleError naming the
difference and leaves the schedule unchanged. A matching program is
tensorized and computes the same as before, so the refusals are not
blanket ones.
"""
import pytest

import mlc
from mlc import ScheduleError, TensorIntrin, te
from mlc.schedules import Schedule

from .block_programs import assert_same_numerics

W = 4


def register(name, dtype, body, n_inputs=2):
    """Register ``C[i] = body(A, B, i)`` over ``i < W`` as intrinsic ``name`` (description and
    implementation alike: the tests are about matching)."""
    def make():
        ins = [te.placeholder((W,), dtype, name="AB"[n]) for n in range(n_inputs)]
        C = te.compute((W,), lambda i: body(*ins, i), name="C")
        return te.create_prim_func(ins + [C])
    TensorIntrin.register(name, make(), make(), override=True)
    return name


def program(body, n_inputs=2, rows=3, cols=8, dtype="float32", in_cols=None):
    """``Z[a, b] = body(X, Y, a, b)`` over (rows, cols)."""
    def make():
        ins = [te.placeholder((rows, in_cols or cols), dtype, name="XY"[n]) for n in range(n_inputs)]
        Z = te.compute((rows, cols), lambda a, b: body(*ins, a, b), name="Z")
        return mlc.IRModule({"main": te.create_prim_func(ins + [Z])})
    return make


def refused(make, intrin, match, factor=W):
    sch = Schedule(make())
    _, b = sch.get_loops(sch.get_block("Z"))
    _, b1 = sch.split(b, factors=[None, factor])
    before = sch.mod
    with pytest.raises(ScheduleError, match=match):
        sch.tensorize(b1, intrin)
    mlc.assert_structural_equal(sch.mod, before)
    assert all(inst.kind != "tensorize" for inst in sch.trace)


def accepted(make, intrin):
    sch = Schedule(make())
    _, b = sch.get_loops(sch.get_block("Z"))
    _, b1 = sch.split(b, factors=[None, W])
    sch.tensorize(b1, intrin)
    assert "Z_o" in sch.mod.script()
    assert_same_numerics(make(), sch.mod)


SCALE = register("test_scale2_4", "float32", lambda A, B, i: A[i] * 2.0 + B[i])
COPY = register("test_copy_4", "float32", lambda A, i: A[i], n_inputs=1)
ADD = register("test_add_4", "float32", lambda A, B, i: A[i] + B[i])
TWICE = register("test_twice_4", "float32", lambda A, i: A[i] + A[i], n_inputs=1)
IOTA = register("test_iota_4", "float32", lambda A, i: A[i] + i.astype("float32"), n_inputs=1)
IADD = register("test_add_const_4", "int32", lambda A, i: A[i] + 3, n_inputs=1)


def test_matching_programs_are_tensorized():
    accepted(program(lambda X, Y, a, b: X[a, b] * 2.0 + Y[a, b]), SCALE)
    accepted(program(lambda X, a, b: X[a, b], n_inputs=1), COPY)
    accepted(program(lambda X, a, b: X[a, b] + X[a, b], n_inputs=1), TWICE)
    accepted(program(lambda X, a, b: X[a, b] + 3, n_inputs=1, dtype="int32"), IADD)


def test_a_different_float_constant_is_refused():
    refused(program(lambda X, Y, a, b: X[a, b] * 3.0 + Y[a, b]), SCALE, r"constant .*3.* vs .*2")


def test_a_different_integer_constant_is_refused():
    refused(program(lambda X, a, b: X[a, b] + 4, n_inputs=1, dtype="int32"), IADD, r"constant .*4.* vs .*3")


@pytest.mark.parametrize("dtype", ["float16", "float64", "int32"])
def test_buffers_of_another_dtype_are_refused(dtype):
    refused(program(lambda X, a, b: X[a, b], n_inputs=1, dtype=dtype), COPY,
            f"buffer [XZ] is {dtype} but the description's [AC] is float32")


def test_an_output_of_another_dtype_is_refused():
    def make():
        X = te.placeholder((3, 8), "float32", name="X")
        Z = te.compute((3, 8), lambda a, b: X[a, b].astype("float64"), name="Z")
        return mlc.IRModule({"main": te.create_prim_func([X, Z])})
    refused(make, COPY, "dtype|float64")


@pytest.mark.parametrize("factor", [2, 8])
def test_a_loop_of_another_extent_is_refused(factor):
    refused(program(lambda X, a, b: X[a, b], n_inputs=1, cols=16), COPY,
            f"has extent {factor} but the description's loop .* has extent 4", factor=factor)


def test_a_partial_tile_is_refused():
    refused(program(lambda X, a, b: X[a, b], n_inputs=1, cols=6), COPY, "predicate .*whole tiles")


def test_one_buffer_in_two_roles_is_refused():
    refused(program(lambda X, a, b: X[a, b] + X[a, b], n_inputs=1), ADD, "buffer X plays two roles")


def test_a_buffer_read_at_two_offsets_is_refused():
    refused(program(lambda X, a, b: X[a, b] + X[a, b + 1], n_inputs=1, in_cols=9), TWICE,
            "offset inconsistent")


def test_an_outer_iterator_in_place_of_the_tensorized_one_is_refused():
    refused(program(lambda X, a, b: X[a, b] + a.astype("float32"), n_inputs=1), IOTA,
            "the block uses .* where the description uses")
