"""TIR lowering passes: each pass's structure on small programs, and lowered
programs computing what the unlowered ones compute."""
import dataclasses

import numpy as np
import pytest

import mlc
from mlc import IRError, te
from mlc.ir import dtype as dt
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import Binary, BufferLoad, Select, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Allocate, Block, BlockRealize, BufferStore, For, IfThenElse, PrimFunc, seq
from mlc.passes.tir import (LOWER_PIPELINE, convert_blocks_to_loops, flatten_buffers, lower,
                            lower_init_block, run_passes, simplify, simplify_expr, verify_lowered,
                            verify_well_formed)
from mlc.runtime.arguments import written_params
from tests.programs import mm_relu_func


def nodes(func_or_stmt, cls):
    root = func_or_stmt.body if isinstance(func_or_stmt, PrimFunc) else func_or_stmt
    return [n for n in pre_order_nodes(root) if isinstance(n, cls)]


def blocks(func):
    return [b for b in nodes(func, Block) if b.name_hint != "root"]


def row_sum(n=4, m=6, lo=0):
    A = te.placeholder((n, m + lo), "float32", "A")
    k = te.reduce_axis((lo, m + lo), "k")
    S = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), "S")
    return te.create_prim_func([A, S])


def mm_relu(n=16):
    return mm_relu_func(n)


# ------------------------------------------------------------ lower_init_block

def test_lower_init_block_guards_init_with_reduce_iterator_at_min():
    func = lower_init_block(row_sum(lo=2))
    (block,) = blocks(func)
    assert block.init is None
    first, update = block.body.seq
    assert isinstance(first, IfThenElse) and first.else_case is None
    cond = first.condition
    vk = block.iter_vars[1].var
    assert isinstance(cond, Binary) and cond.op == "eq" and cond.a is vk and cond.b.value == 2
    assert isinstance(first.then_case, BufferStore) and first.then_case.value.value == 0
    assert isinstance(update, BufferStore)


def test_lower_init_block_conjoins_every_reduce_iterator():
    A = te.placeholder((3, 4, 5), "float32", "A")
    k1, k2 = te.reduce_axis((0, 4), "k1"), te.reduce_axis((1, 5), "k2")
    S = te.compute((3,), lambda i: te.max(A[i, k1, k2], axis=[k1, k2]), "S")
    (block,) = blocks(lower_init_block(te.create_prim_func([A, S])))
    cond = block.body.seq[0].condition
    assert cond.op == "and" and cond.a.op == "eq" and cond.b.op == "eq"
    assert {cond.a.b.value, cond.b.b.value} == {0, 1}


def test_lower_init_block_without_reduce_iterator_runs_init_unconditionally():
    A = te.placeholder((4,), "float32", "A")
    func = te.create_prim_func([A, te.compute((4,), lambda i: A[i] + 1, "B")])
    (block,) = blocks(func)
    init = BufferStore(block.writes[0].buffer, const(0.0, "float32"), (block.iter_vars[0].var,))
    func = func.with_body(_replace_block(func.body, dataclasses.replace(block, init=init)))
    (lowered,) = blocks(lower_init_block(func))
    assert lowered.init is None and lowered.body.seq[0] is init


def test_lower_init_block_leaves_init_free_functions_unchanged():
    A = te.placeholder((4,), "float32", "A")
    func = te.create_prim_func([A, te.compute((4,), lambda i: A[i] + 1, "B")])
    assert lower_init_block(func) is func


# ------------------------------------------------------ convert_blocks_to_loops

def test_convert_blocks_substitutes_loop_vars_and_allocates_intermediates():
    func = convert_blocks_to_loops(lower_init_block(mm_relu()))
    assert not nodes(func, Block) and not nodes(func, BlockRealize)
    (alloc,) = nodes(func, Allocate)
    assert func.body is alloc and alloc.buffer.name == "Y"
    loop_vars = {id(f.loop_var) for f in nodes(func, For)}
    used = {id(v) for v in nodes(func, Var)}
    assert used <= loop_vars, "block iterators must be replaced by loop variables"


def test_convert_blocks_turns_predicate_into_if():
    A = te.placeholder((10,), "float32", "A")
    func = te.create_prim_func([A, te.compute((10,), lambda i: A[i] * 2, "B")])
    realize = nodes(func, BlockRealize)[1]
    loop = nodes(func, For)[0]
    pred = loop.loop_var < 9
    func = func.with_body(_replace(func.body, realize, dataclasses.replace(realize, predicate=pred)))
    out = convert_blocks_to_loops(func)
    (ite,) = nodes(out, IfThenElse)
    assert ite.condition is pred and isinstance(ite.then_case, BufferStore)


def test_convert_blocks_requires_init_lowered_first():
    with pytest.raises(IRError, match="lower_init_block"):
        convert_blocks_to_loops(row_sum())


# --------------------------------------------------------------- flatten_buffers

def test_flatten_makes_params_one_dimensional_in_order():
    func = flatten_buffers(convert_blocks_to_loops(lower_init_block(mm_relu(16))))
    assert [p.name for p in func.params] == ["A", "B", "C"]
    assert all(p.static_shape() == (256,) for p in func.params)
    for n in nodes(func, BufferLoad) + nodes(func, BufferStore):
        assert len(n.indices) == 1
    (alloc,) = nodes(func, Allocate)
    assert alloc.buffer.static_shape() == (256,)
    store = [s for s in nodes(func, BufferStore) if s.buffer.name == "C"][0]
    i, j = (f.loop_var for f in nodes(func, For)[-2:])
    expected = i * 16 + j
    mlc.assert_structural_equal(store.indices[0], expected)


def test_flatten_respects_strides():
    buf = dataclasses.replace(decl_buffer((3, 4), "float32", "S"), strides=(const(1), const(3)))
    out = decl_buffer((3, 4), "float32", "O")
    i, j = Var("i"), Var("j")
    body = For(i, const(0), const(3), "serial",
               For(j, const(0), const(4), "serial", BufferStore(out, BufferLoad(buf, (i, j), "float32"), (i, j))))
    func = flatten_buffers(PrimFunc((buf, out), body))
    (load,) = nodes(func, BufferLoad)
    mlc.assert_structural_equal(load.indices[0], i * 1 + j * 3)
    assert func.params[0].static_shape() == (12,)


def test_flatten_uses_int64_offsets_for_buffers_past_int32():
    big = decl_buffer((65536, 65536), "float32", "Big")
    i, j = Var("i"), Var("j")
    body = For(i, const(0), const(65536), "serial", For(j, const(0), const(65536), "serial",
               BufferStore(big, const(1.0, "float32"), (i, j))))
    func = flatten_buffers(PrimFunc((big,), body))
    (store,) = nodes(func, BufferStore)
    assert store.indices[0].dtype == "int64"
    assert func.params[0].shape[0].dtype == "int64" and func.params[0].shape[0].value == 2**32


def test_flatten_zero_dimensional_buffer():
    scalar = decl_buffer((), "float32", "x")
    func = flatten_buffers(PrimFunc((scalar,), BufferStore(scalar, const(1.0, "float32"), ())))
    (store,) = nodes(func, BufferStore)
    assert store.indices[0].value == 0 and func.params[0].static_shape() == (1,)


def test_flatten_refuses_blocks():
    with pytest.raises(IRError, match="convert_blocks_to_loops"):
        flatten_buffers(mm_relu())


# ---------------------------------------------------------------------- simplify

def test_simplify_gathers_integer_constants():
    i = Var("i")
    mlc.assert_structural_equal(simplify_expr((i + 2) + 3), i + 5)
    mlc.assert_structural_equal(simplify_expr((i + 2) - 2), i)
    mlc.assert_structural_equal(simplify_expr((i * 2) * 4), i * 8)
    mlc.assert_structural_equal(simplify_expr(3 + i), i + 3)


def test_simplify_uses_enclosing_loop_ranges_for_indices():
    out = decl_buffer((64,), "float32", "O")
    f0, f1 = Var("f0"), Var("f1")
    store = BufferStore(out, const(1.0, "float32"), ((f0 * 32 + f1) // 64,))
    func = simplify(PrimFunc((out,), For(f0, const(0), const(64), "serial",
                                         For(f1, const(0), const(32), "serial", store))))
    (new,) = nodes(func, BufferStore)
    mlc.assert_structural_equal(new.indices[0], f0 // 2)


def test_simplify_never_reassociates_floats():
    x = Var("x", "float32")
    e = (x + 1.0) + 2.0
    assert simplify_expr(e) is e


def test_simplify_constant_conditions_and_unit_loops():
    out = decl_buffer((4,), "int32", "O")
    i = Var("i")
    body = seq(
        For(i, const(2), const(1), "serial", BufferStore(out, i * 1 + 0, (i,))),
        IfThenElse(const(False, "bool"), BufferStore(out, const(9), (const(0),))),
        For(Var("z"), const(0), const(0), "serial", BufferStore(out, const(7), (const(1),))),
        BufferStore(out, Select(const(True, "bool"), const(5), const(6), "int32"), (const(3),)),
    )
    func = simplify(PrimFunc((out,), body))
    stores = nodes(func, BufferStore)
    assert [s.indices[0].value for s in stores] == [2, 3]
    assert [s.value.value for s in stores] == [2, 5]
    assert not nodes(func, For) and not nodes(func, IfThenElse)


def test_simplify_drops_true_from_conjunctions():
    c = Var("c", "bool")
    assert simplify_expr(mlc.ir.expr.logical_and(True, c)) is c


# ------------------------------------------------------------- verifier/pipeline

def test_lowered_functions_pass_the_lowered_verifier():
    func = lower(mm_relu())
    verify_lowered(func)
    kinds = {type(n) for n in pre_order_nodes(func.body)}
    assert kinds.isdisjoint({Block, BlockRealize})
    with pytest.raises(IRError, match="one-dimensional"):
        verify_lowered(mm_relu())
    with pytest.raises(IRError, match="BlockRealize remains after lowering"):
        verify_lowered(func.with_body(BlockRealize((), const(True, "bool"), Block("b", (), (), (), func.body))))


def test_verifier_reports_unbound_variables_and_unallocated_buffers():
    out = decl_buffer((4,), "float32", "O")
    stray = decl_buffer((4,), "float32", "T")
    i = Var("i")
    with pytest.raises(IRError, match="variable i"):
        verify_well_formed(PrimFunc((out,), BufferStore(out, const(1.0, "float32"), (i,))))
    with pytest.raises(IRError, match="buffer T"):
        verify_well_formed(PrimFunc((out,), BufferStore(stray, const(1.0, "float32"), (const(0),))))
    with pytest.raises(IRError, match="dimension"):
        verify_well_formed(PrimFunc((out,), BufferStore(out, const(1.0, "float32"), (const(0), const(0)))))


def test_run_passes_names_the_pass_that_broke_the_ir():
    def break_everything(func):
        out = func.params[-1]
        return func.with_body(BufferStore(out, const(0.0, out.dtype), (Var("nowhere"), Var("nowhere2"))))

    with pytest.raises(IRError, match="after pass break_everything"):
        run_passes(row_sum(), [lower_init_block, break_everything], verify=True)
    run_passes(row_sum(), LOWER_PIPELINE, verify=True)


def test_lower_is_idempotent():
    once = lower(mm_relu())
    mlc.assert_structural_equal(lower(once), once)


# ------------------------------------------------- lowered programs compute the same

def _run_llvm(func, arrays):
    """Build ``func`` with the llvm backend and run it on flat views of ``arrays``."""
    lib = mlc.build(mlc.IRModule({"f": func}), "llvm")
    lib["f"](*arrays)


def test_lowered_course_program_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 16, 16)).astype("float32")
    c_full = np.empty((16, 16), "float32")
    c_flat = np.empty((16, 16), "float32")
    _run_llvm(mm_relu(16), [a, b, c_full])
    _run_llvm(lower(mm_relu(16)), [a.reshape(-1), b.reshape(-1), c_flat.reshape(-1)])
    want = np.maximum(a @ b, 0)
    np.testing.assert_allclose(c_full, want, rtol=1e-5, atol=1e-5)
    # build() may schedule the two forms differently (summation order), so not bit-equal
    np.testing.assert_allclose(c_flat, want, rtol=1e-5, atol=1e-5)


def test_lowered_reduction_with_offset_domain_matches_numpy():
    a = np.arange(4 * 9, dtype="float32").reshape(4, 9)
    s = np.empty(4, "float32")
    _run_llvm(lower(row_sum(4, 6, lo=3)), [a.reshape(-1), s])
    np.testing.assert_array_equal(s, a[:, 3:9].sum(axis=1))


def _programs():
    """Small te programs exercising every pass: (name, PrimFunc)."""
    out = [("mm_relu", mm_relu(8)), ("row_sum_offset", row_sum(3, 5, lo=2))]
    A = te.placeholder((9,), "float32", "A")
    out.append(("pad", te.create_prim_func([A, te.compute((9,), lambda i: te.if_then_else(i >= 2, A[i - 2], -1.0), "P")])))
    B = te.placeholder((2, 3, 4), "int32", "B")
    out.append(("transpose", te.create_prim_func([B, te.compute((4, 2, 3), lambda i, j, k: B[j, k, i] * 3, "T")])))
    C = te.placeholder((4, 6), "int64", "C")
    k = te.reduce_axis((1, 6), "k")
    out.append(("where_max", te.create_prim_func([C, te.compute((4,), lambda i: te.max(C[i, k], axis=k, where=k % 2 == 1), "M")])))
    D = te.placeholder((5,), "float64", "D")
    lo, hi = te.compute((5,), lambda i: (te.min(D[i], 0.0), te.max(D[i], 0.0)), "split")
    out.append(("multi_output", te.create_prim_func([D, lo, hi])))
    E = te.placeholder((3, 0), "float32", "E")
    out.append(("empty", te.create_prim_func([E, te.compute((3, 0), lambda i, j: E[i, j] + 1, "F")])))
    return out


@pytest.mark.parametrize("name, func", _programs(), ids=[n for n, _ in _programs()])
def test_lowered_program_computes_what_the_original_computes(name, func):
    """The reference interpreter on the original and on the lowered function, and LLVM, agree."""
    reference = pytest.importorskip("mlc.backends.reference")
    rng = np.random.default_rng(len(name))
    written = written_params(func)
    inputs = {n: _random(p.dtype, p.static_shape(), rng) for n, p in enumerate(func.params) if n not in written}
    results = []
    for run_on in ("original", "lowered", "llvm"):
        arrays = [inputs[n] if n in inputs else np.zeros(p.static_shape(), p.dtype)
                  for n, p in enumerate(func.params)]
        if run_on == "original":
            reference.run(func, arrays)
        elif run_on == "lowered":
            reference.run(lower(func), [a.reshape(-1) for a in arrays])
        else:
            _run_llvm(func, arrays)
        results.append([arrays[n] for n in sorted(written)])
    for outs in results[1:]:
        for got, want in zip(outs, results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def _random(dtype, shape, rng):
    if dt.is_float(dtype):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-50, 50, shape).astype(dtype)


# ------------------------------------------------------------------------ helpers

def _replace(root, old, new):
    """``root`` with the node ``old`` replaced by ``new`` (by identity)."""
    from mlc.ir.functor import Mutator

    class R(Mutator):
        def visit(self, node):
            return new if node is old else super().visit(node)
    return R().visit(root)


def _replace_block(root, block):
    (old,) = [b for b in pre_order_nodes(root) if isinstance(b, Block) and b.name_hint == block.name_hint]
    return _replace(root, old, block)


def test_the_verifier_takes_the_symbolic_sizes_of_parameters_as_bound():
    """A dynamic axis's length (a_dim0) is defined by the call's array, not by a loop: the
    debug mode's verifier refused every function with one ('a_dim0 ... is not bound')."""
    from mlc.config import override
    with override(debug=True):
        f = mlc.jit(lambda a: a * 2, dynamic=("a", 0))
        np.testing.assert_array_equal(f(np.ones((3, 2), "float32")), np.full((3, 2), 2, "float32"))
