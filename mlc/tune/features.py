"""Features of a scheduled PrimFunc for the cost model, one row per store (TVM's idea).

For every ``BufferStore`` the walk records: how often it runs (the product of
the loop extents above it), the extents of the parallel, vectorized and
unrolled loops above it, the arithmetic in the stored value (float adds,
multiplies, divisions, math calls, comparisons/selects), its loads and how
each one moves along the innermost loop (unit stride, strided, or reused:
the innermost loop does not move it), the distinct buffers it touches, and
the bytes allocated in the function. :func:`extract` sums and maxes the
per-store rows (log-scaled) into one fixed-length vector per function.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((64, 64), "float32", "A")
>>> B = te.compute((64, 64), lambda i, j: A[i, j] * 2 + 1, "B")
>>> rows = store_features(te.create_prim_func([A, B]))
>>> rows[0]["runs"], rows[0]["float_mul"], rows[0]["float_add"], rows[0]["load_unit"]
(4096, 1, 1, 1)
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.expr import Binary, BufferLoad, Call, IntImm, Select, Var
from ..ir.functor import pre_order_nodes
from ..ir.tir import Allocate, Block, BlockRealize, BufferStore, For, IfThenElse, SeqStmt

__all__ = ["store_features", "extract", "FEATURE_NAMES", "estimate_flops"]

_STORE_KEYS = ("runs", "loops", "innermost", "parallel", "vector", "unroll", "float_add", "float_mul",
               "float_div", "float_math", "compare", "int_ops", "loads", "load_unit", "load_strided",
               "load_reuse", "buffers", "store_unit", "store_reuse", "local_store", "predicated")
#: the names of the entries of :func:`extract`'s vector
FEATURE_NAMES = tuple(f"sum_{k}" for k in _STORE_KEYS) + tuple(f"max_{k}" for k in _STORE_KEYS) + (
    "stores", "alloc_bytes", "alloc_local_bytes", "total_runs")


def _extent(loop: For) -> int:
    return loop.extent.value if isinstance(loop.extent, IntImm) else 1


def _depends(expr, loop_ids: set[int], binding: dict[int, frozenset]) -> frozenset:
    """The loop variables (by id) that ``expr`` depends on, through block bindings."""
    out: set[int] = set()
    for n in pre_order_nodes(expr):
        if isinstance(n, Var):
            if id(n) in loop_ids:
                out.add(id(n))
            elif id(n) in binding:
                out |= binding[id(n)]
    return frozenset(out)


def _movement(indices, inner: int | None, loop_ids, binding) -> str:
    """How an access moves along the innermost loop: "unit", "strided" or "reuse"."""
    if inner is None:
        return "reuse"
    deps = [inner in _depends(ix, loop_ids, binding) for ix in indices]
    if not any(deps):
        return "reuse"
    return "unit" if deps[-1] and not any(deps[:-1]) else "strided"


def store_features(func) -> list[dict]:
    """One dict of :data:`_STORE_KEYS` per store of ``func``, in program order."""
    rows = []
    stack = [(func.body, (), {}, False)]
    while stack:
        node, loops, binding, predicated = stack.pop()
        if isinstance(node, For):
            stack.append((node.body, loops + (node,), binding, predicated))
        elif isinstance(node, SeqStmt):
            stack.extend((s, loops, binding, predicated) for s in reversed(node.seq))
        elif isinstance(node, BlockRealize):
            loop_ids = {id(f.loop_var) for f in loops}
            inner = dict(binding)
            for iv, value in zip(node.block.iter_vars, node.iter_values):
                inner[id(iv.var)] = _depends(value, loop_ids, binding)
            pred = predicated or not (isinstance(node.predicate, IntImm) and node.predicate.value == 1)
            stack.append((node.block, loops, inner, pred))
        elif isinstance(node, Block):
            stack.append((node.body, loops, binding, predicated))
            if node.init is not None:
                stack.append((node.init, loops, binding, predicated))
        elif isinstance(node, IfThenElse):
            stack.append((node.then_case, loops, binding, True))
            if node.else_case is not None:
                stack.append((node.else_case, loops, binding, True))
        elif isinstance(node, Allocate):
            stack.append((node.body, loops, binding, predicated))
        elif isinstance(node, BufferStore):
            rows.append(_store_row(node, loops, binding, predicated))
    return rows


def _store_row(store: BufferStore, loops, binding, predicated: bool) -> dict:
    loop_ids = {id(f.loop_var) for f in loops}
    inner = id(loops[-1].loop_var) if loops else None
    row = dict.fromkeys(_STORE_KEYS, 0)
    row["runs"] = math.prod(_extent(f) for f in loops)
    row["loops"] = len(loops)
    row["innermost"] = _extent(loops[-1]) if loops else 1
    row["parallel"] = math.prod(_extent(f) for f in loops if f.kind == "parallel")
    row["vector"] = math.prod(_extent(f) for f in loops if f.kind == "vectorized")
    row["unroll"] = math.prod(_extent(f) for f in loops if f.kind == "unrolled")
    row["predicated"] = int(predicated)
    buffers = {id(store.buffer)}
    for n in pre_order_nodes(store.value):
        if isinstance(n, Binary):
            is_float = n.a.dtype.startswith("float") if hasattr(n.a, "dtype") else False
            if n.op in ("add", "sub") and is_float:
                row["float_add"] += 1
            elif n.op == "mul" and is_float:
                row["float_mul"] += 1
            elif n.op in ("div", "floordiv", "floormod") and is_float:
                row["float_div"] += 1
            elif n.op in ("lt", "le", "gt", "ge", "eq", "ne", "max", "min"):
                row["compare"] += 1
            else:
                row["int_ops"] += 1
        elif isinstance(n, Call):
            row["float_math"] += 1
        elif isinstance(n, Select):
            row["compare"] += 1
        elif isinstance(n, BufferLoad):
            row["loads"] += 1
            buffers.add(id(n.buffer))
            row[f"load_{_movement(n.indices, inner, loop_ids, binding)}"] += 1
    move = _movement(store.indices, inner, loop_ids, binding)
    row["store_unit" if move == "unit" else "store_reuse" if move == "reuse" else "int_ops"] += 1
    row["local_store"] = int(store.buffer.scope == "local")
    row["buffers"] = len(buffers)
    return row


def _alloc_bytes(func) -> tuple[int, int]:
    total = local = 0
    for n in pre_order_nodes(func.body):
        if isinstance(n, Block):
            for buf in n.alloc_buffers:
                size = math.prod(s.value if isinstance(s, IntImm) else 1 for s in buf.shape)
                nbytes = size * max(1, np.dtype(buf.dtype).itemsize)
                total += nbytes
                local += nbytes if buf.scope == "local" else 0
    return total, local


def extract(func) -> np.ndarray:
    """The feature vector of a scheduled PrimFunc (length ``len(FEATURE_NAMES)``)."""
    rows = store_features(func)
    table = np.array([[r[k] for k in _STORE_KEYS] for r in rows], dtype="float64").reshape(-1, len(_STORE_KEYS))
    runs = table[:, 0:1] if len(rows) else np.zeros((0, 1))
    # per-store counts weighted by how often the store runs, then log-scaled
    weighted = np.concatenate([table[:, :6], table[:, 6:] * runs], axis=1) if len(rows) else table
    total, local = _alloc_bytes(func)
    summed = np.log2(1 + weighted.sum(axis=0)) if len(rows) else np.zeros(len(_STORE_KEYS))
    maxed = np.log2(1 + weighted.max(axis=0)) if len(rows) else np.zeros(len(_STORE_KEYS))
    extra = np.log2(1 + np.array([len(rows), total, local, float(runs.sum()) if len(rows) else 0.0]))
    return np.concatenate([summed, maxed, extra])


def estimate_flops(func) -> float:
    """Floating-point operations one call of ``func`` performs (its stores' float arithmetic)."""
    flops = 0.0
    for r in store_features(func):
        flops += r["runs"] * (r["float_add"] + r["float_mul"] + r["float_div"] + r["float_math"] + r["compare"])
    return flops
