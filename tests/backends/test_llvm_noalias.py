"""A function marked ``tir.noalias=False`` may be called with aliased buffers.

Its LLVM arguments carry no ``noalias`` (the default, ``True``, does carry
it), and a call that passes one array as both input and output computes what
the loop nest computes in program order on that one array.
"""
from dataclasses import replace

import numpy as np
import pytest

import mlc
from mlc.ir import const, decl_buffer
from mlc.ir.tir import BufferStore

from ..schedules.block_programs import V, block, func, loops, module

N = 64


def shifted_increment(noalias: bool, n=N):
    """``B[i + 1] = A[i] + 1`` for ``i < n - 1``: on one array, a running count."""
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    i = V("i")
    body = block("B", [("vi", n - 1, "S")], (i,), lambda vi: BufferStore(B, A[vi] + const(1.0, "float32"), (vi + 1,)))
    f = func((A, B), (), loops([(i, n - 1)], body), name="shift")
    return module(replace(f, attrs=(("global_symbol", "shift"), ("tir.noalias", noalias))), "shift")


def in_place_increment(noalias: bool, n=N):
    """``B[i] = A[i] + 1``: with A and B one array, an in-place update."""
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    i = V("i")
    body = block("B", [("vi", n, "S")], (i,), lambda vi: BufferStore(B, A[vi] + const(1.0, "float32"), (vi,)))
    f = func((A, B), (), loops([(i, n)], body), name="inc")
    return module(replace(f, attrs=(("global_symbol", "inc"), ("tir.noalias", noalias))), "inc")


def _define_line(lib, name):
    return next(line for line in lib.get_source("ll").splitlines() if line.startswith("define") and f"@{name}(" in line)


def test_noalias_false_arguments_carry_no_noalias():
    lib = mlc.build(shifted_increment(noalias=False), "llvm")
    assert "noalias" not in _define_line(lib, "shift")
    marked = mlc.build(shifted_increment(noalias=True), "llvm")
    assert "noalias" in _define_line(marked, "shift")


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_an_aliased_call_computes_in_program_order(target):
    lib = mlc.build(shifted_increment(noalias=False), target)
    a = np.zeros(N, "float32")
    a[0] = 5.0
    lib["shift"](a, a)
    np.testing.assert_array_equal(a, 5.0 + np.arange(N, dtype="float32"))


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_an_input_that_is_also_the_output_is_updated_in_place(target):
    lib = mlc.build(in_place_increment(noalias=False), target)
    a = np.arange(N, dtype="float32")
    lib["inc"](a, a)
    np.testing.assert_array_equal(a, np.arange(N, dtype="float32") + 1)
    if target == "llvm":
        assert "noalias" not in _define_line(lib, "inc")


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_a_vectorized_loop_of_an_aliasing_function_keeps_program_order(target):
    """Vector code would load A[i:i + 8] before storing B[i + 1:i + 9]: on one array, lanes
    would miss the values the previous iterations stored. Without noalias it stays scalar."""
    sch = mlc.Schedule(shifted_increment(noalias=False, n=N + 1))
    (i,) = sch.get_loops(sch.get_block("B", "shift"))
    _, inner = sch.split(i, factors=[None, 8])
    sch.vectorize(inner)
    lib = mlc.build(sch.mod, target)
    a = np.zeros(N + 1, "float32")
    lib["shift"](a, a)
    np.testing.assert_array_equal(a, np.arange(N + 1, dtype="float32"))
