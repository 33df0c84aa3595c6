"""Helpers for the block-primitive tests: programs, a tiny TIR builder, numerics, replay."""
from __future__ import annotations

import numpy as np

import mlc
from mlc import te
from mlc.ir import BufferRegion, IterVar, Range, Var, const
from mlc.ir.expr import BufferLoad
from mlc.ir.functor import pre_order_nodes
from mlc.ir.te import access_regions
from mlc.ir.tir import Block, BlockRealize, BufferStore, For, PrimFunc, seq
from mlc.schedules import Schedule, Trace
from tests.programs import mm_relu_module

TRUE = const(True, "bool")
KINDS = {"S": "spatial", "R": "reduce"}


# ------------------------------------------------------------------ programs

def course_module(n=128, m=None, k=None):
    """The MLC course's mm_relu: Y = A @ B, C = relu(Y)."""
    return mm_relu_module(n, m, k)


def elementwise_chain(n=8, m=8):
    """B = A * 2, C = B + 1 (both elementwise)."""
    A = te.placeholder((n, m), "float32", name="A")
    B = te.compute((n, m), lambda i, j: A[i, j] * 2, name="B")
    C = te.compute((n, m), lambda i, j: B[i, j] + 1, name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])})


# ------------------------------------------------------------- TIR builder

def V(name: str) -> Var:
    return Var(name, "int32")


def loops(spec, body):
    """Serial loops ``[(var, extent), ...]`` (outermost first) around ``body``."""
    for var, extent in reversed(spec):
        body = For(var, const(0), const(extent), "serial", body)
    return body


def point(buf, *idx) -> BufferRegion:
    return BufferRegion(buf, tuple(Range(i, const(1)) for i in idx))


def block(name, iters, values, body, *, init=None, reads=None, writes=None, pred=TRUE, annotations=()):
    """A BlockRealize. ``iters``: [(name, extent, "S"|"R")]; ``body``/``init``/``reads``/
    ``writes`` are functions of the iterator variables (reads/writes default to the
    regions the body accesses, as te computes them)."""
    ivs = tuple(IterVar(Var(n, "int32"), Range.from_extent(e), KINDS[k]) for n, e, k in iters)
    vs = [iv.var for iv in ivs]
    b = body(*vs)
    i = init(*vs) if init else None
    stores = [n for n in pre_order_nodes(b) if isinstance(n, BufferStore)]
    if writes is None:
        w = tuple(point(s.buffer, *s.indices) for s in stores)
    else:
        w = tuple(writes(*vs))
    if reads is None:
        loads = [n for n in pre_order_nodes(b) if isinstance(n, BufferLoad)]
        if i is not None:
            loads = [n for n in loads if all(n.buffer is not s.buffer for s in stores)]
        r = access_regions(loads)
    else:
        r = tuple(reads(*vs))
    blk = Block(name, ivs, r, w, b, i, annotations=tuple(annotations))
    return BlockRealize(tuple(values), pred, blk)


def func(params, allocs, *stmts, name="main") -> PrimFunc:
    root = Block("root", (), (), (), seq(*stmts), alloc_buffers=tuple(allocs))
    return PrimFunc(tuple(params), BlockRealize((), TRUE, root), (("global_symbol", name), ("tir.noalias", True)))


def module(f: PrimFunc, name="main") -> mlc.IRModule:
    return mlc.IRModule({name: f})


# ---------------------------------------------------------------- checking

TARGETS = ("reference", "llvm")


def random_args(f: PrimFunc, seed=0):
    rng = np.random.default_rng(seed)
    args = []
    for p in f.params:
        shape = p.static_shape()
        if p.dtype.startswith("float"):
            args.append(rng.uniform(-2, 2, shape).astype(p.dtype))
        else:
            args.append(rng.integers(-5, 5, shape).astype(p.dtype))
    return args


def run(mod, name, args, target):
    out = [a.copy() for a in args]
    mlc.build(mod, target)[name](*out)
    return out


def assert_same_numerics(before, after, name=None, rtol=1e-5, atol=1e-5, seed=0, targets=TARGETS):
    """Every scheduled program computes what the unscheduled one does, on every target."""
    name = name or next(iter(before))
    args = random_args(before[name], seed)
    want = run(before, name, args, "reference")
    for target in targets:
        got = run(after, name, args, target)
        for p, w, g in zip(before[name].params, want, got):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{target}: buffer {p.name}")


def assert_replays(sch: Schedule, make_mod):
    """The trace printed as Python and the trace as JSON both rebuild the same module."""
    namespace = {}
    exec(str(sch.trace), namespace)
    fresh = Schedule(make_mod())
    namespace["apply_schedule"](fresh)
    mlc.assert_structural_equal(fresh.mod, sch.mod)
    replayed = Trace.from_json(sch.trace.to_json()).apply(Schedule(make_mod()))
    mlc.assert_structural_equal(replayed.mod, sch.mod)
    assert str(fresh.trace) == str(sch.trace)
