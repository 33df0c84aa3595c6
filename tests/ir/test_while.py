"""The TIR While statement: parsed, printed, and run by every backend (a kernel's own loop on a
condition; a graph's main runs mlc.while_loop as one)."""
import numpy as np
import pytest

import mlc
from mlc.backends.cuda import compile_sources
from mlc.target import Target

ISQRT = '''
@T.prim_func
def main(A: T.Buffer((8,), "int32"), B: T.Buffer((8,), "int32")):
    for i in {loop}:
        B[i] = 0
        while B[i] * B[i] < A[i]:
            B[i] = B[i] + 1
'''
A = np.array([0, 1, 2, 4, 5, 16, 17, 100], "int32")
WANT = np.ceil(np.sqrt(A)).astype("int32")


@pytest.mark.parametrize("target, loop", [("llvm", "range(8)"), ("reference", "range(8)"),
                                          ("cuda-emulator", 'T.thread_binding(8, thread="threadIdx.x")')])
def test_a_while_loop_in_a_kernel_runs_per_element(target, loop):
    func = mlc.parse(ISQRT.format(loop=loop))
    assert "while B[i] * B[i] < A[i]:" in func.script()
    mod = mlc.IRModule({"main": func})
    b = np.full(8, -1, "int32")
    mlc.build(mod, target=target)["main"](A, b)
    np.testing.assert_array_equal(b, WANT)


def test_cuda_renders_a_while_loop():
    mod = mlc.IRModule({"main": mlc.parse(ISQRT.format(loop='T.thread_binding(8, thread="threadIdx.x")'))})
    code, _ = compile_sources(mod, Target("cuda", arch="sm_80"))
    assert "while (" in str(code)


def test_a_while_condition_must_be_bool():
    from mlc.ir.expr import IntImm
    from mlc.ir.tir import Evaluate, While
    with pytest.raises(mlc.IRError, match="must be bool"):
        While(IntImm(1, "int32"), Evaluate(IntImm(0, "int32")))
