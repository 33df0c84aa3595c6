"""Expressions as deep as the user writes them: a te chain of multiply-adds, a TVMScript sum of
hundreds of terms, a jitted loop of updates. Every walker on the way (the generic Mutator,
simplify, the printer, the parser, the vectorizer, the LLVM and CUDA codegens) takes them on
a loop, not a Python call per level: they raised a bare RecursionError at a few hundred.
"""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.errors import ParseError
from mlc.ir.structural import structural_equal, structural_hash

SCALE, SHIFT = 1.0001, 0.5


def _chain(n: int):
    """B[i] = (((A[i] * SCALE + SHIFT) * SCALE + SHIFT) ...), ``n`` multiply-adds deep."""
    A = te.placeholder((7,), "float32", "A")

    def body(i):
        e = A[i]
        for _ in range(n):
            e = e * te.const(SCALE, "float32") + te.const(SHIFT, "float32")
        return e
    return te.create_prim_func([A, te.compute((7,), body, "B")])


def _horner(n: int):
    """B[i] = SHIFT + A[i] * (SHIFT + A[i] * (...)), ``n`` levels deep down second operands."""
    A = te.placeholder((7,), "float32", "A")

    def body(i):
        e = te.const(SHIFT, "float32")
        for _ in range(n):
            e = te.const(SHIFT, "float32") + A[i] * e
        return e
    return te.create_prim_func([A, te.compute((7,), body, "B")])


def _horner_numpy(a: np.ndarray, n: int) -> np.ndarray:
    e = np.full_like(a, SHIFT)
    for _ in range(n):
        e = np.float32(SHIFT) + a * e
    return e


def _chain_numpy(a: np.ndarray, n: int) -> np.ndarray:
    for _ in range(n):
        a = a * np.float32(SCALE) + np.float32(SHIFT)
    return a


def _sum_script(n: int) -> str:
    terms = " + ".join(f"A[vi] * T.float32({k})" for k in range(n))
    return f'''
import mlc.script.tir as T
@T.prim_func
def main(A: T.Buffer((7,), "float32"), B: T.Buffer((7,), "float32")):
    for i in range(7):
        with T.block("B"):
            vi = T.axis.spatial(7, i)
            B[vi] = {terms}
'''


def _run(func, target: str, a: np.ndarray) -> np.ndarray:
    out = np.empty_like(a)
    mlc.build(func, target)["main"](a, out)
    return out


A = np.linspace(-1, 1, 7).astype("float32")


@pytest.mark.parametrize("n", [300, 2000])
def test_a_deep_te_chain_creates_builds_and_prints(n):
    func = _chain(n)
    np.testing.assert_allclose(_run(func, "llvm", A), _chain_numpy(A, n), rtol=1e-4)
    assert func.script().count("T.float32(1.0001)") == n
    assert structural_equal(func, _chain(n)) and structural_hash(func) == structural_hash(_chain(n))


def test_a_deep_te_chain_on_the_gpu_emulator_and_the_reference():
    func = _chain(2000)
    for target in ("cuda-emulator", "reference"):
        np.testing.assert_allclose(_run(func, target, A), _chain_numpy(A, 2000), rtol=1e-4, err_msg=target)
    assert "main_kernel" in mlc.build(func, "cuda-emulator").get_source()


def test_a_deep_horner_chain_down_second_operands_on_every_target():
    func = _horner(1500)
    assert func.script().count("T.float32(0.5)") == 1501
    for target in ("llvm", "reference", "cuda-emulator"):
        np.testing.assert_allclose(_run(func, target, A), _horner_numpy(A, 1500), rtol=1e-5, err_msg=target)
    assert "main_kernel" in mlc.build(func, "cuda-emulator").get_source()


@pytest.mark.parametrize("n", [400, 2000])
def test_a_long_tvmscript_sum_parses_and_builds(n):
    func = mlc.parse(_sum_script(n))
    want = sum((A.astype("float64") * k for k in range(n)), np.zeros(7))
    np.testing.assert_allclose(_run(func, "llvm", A), want, rtol=1e-4, atol=1e-2)


def test_a_500_term_tvmscript_sum_parses():
    func = mlc.parse(_sum_script(500))
    assert structural_equal(mlc.parse(func.script()), func)


def test_an_expression_too_deep_for_pythons_parser_is_a_parse_error():
    with pytest.raises(ParseError, match="nested too deeply for Python's parser.*split it"):
        mlc.parse(_sum_script(20000))


def test_a_jitted_loop_of_updates_on_every_target():
    def updates(x):
        for _ in range(1500):
            x = x * 1.0001 + 0.5
        return x
    x = np.linspace(-1, 1, 9).astype("float32")
    for target in ("llvm", "cuda-emulator"):
        np.testing.assert_allclose(mlc.jit(updates, target=target)(x), _chain_numpy(x, 1500), rtol=1e-4,
                                   err_msg=target)


def test_an_int64_power_of_a_power():
    x = np.array([0, 1, 2, 3, -2, 7], "int64")
    with np.errstate(over="ignore"):
        want = np.power(x, np.power(np.abs(x), np.abs(x)))
    np.testing.assert_array_equal(mlc.jit(lambda a, b: np.power(a, np.power(b, b)))(x, np.abs(x)), want)


def test_simplify_rewrites_a_shared_subexpression_once():
    """A float expression whose parts are shared (a DAG, as a written-out complex inverse is):
    each node is simplified once, not once per path to it (2**depth paths)."""
    from mlc import te
    import sys
    import mlc.passes.tir.simplify
    simplify_module = sys.modules["mlc.passes.tir.simplify"]
    from mlc.passes.tir.simplify import simplify
    depth = 8
    a = te.placeholder((4,), "float32", "A")

    func = te.create_prim_func([a, te.compute((4,), lambda i: a[i] + 1.0, "B")])
    from mlc.ir.functor import Mutator
    from mlc.ir.tir import BufferStore
    from mlc.ir.expr import Cast

    class Shared(Mutator):  # the stored value made a DAG: each level uses the one below thrice
        def visit_BufferStore(self, node):
            e = node.value
            for _ in range(depth):  # (a Cast between levels: no one chain of Binary nodes)
                e = Cast("float32", e * e - e)
            return BufferStore(node.buffer, e, node.indices)

    func = func.with_body(Shared().visit(func.body))
    made = []
    real = simplify_module._Simplify._binary
    simplify_module._Simplify._binary = lambda self, n, x, y: made.append(n) or real(self, n, x, y)
    try:
        out = simplify(func)
    finally:
        simplify_module._Simplify._binary = real
    assert len(made) <= 4 * depth + 8
    import mlc
    mlc.assert_structural_equal(out.body, func.body) if out is func else None
