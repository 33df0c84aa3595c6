"""Features of a function for the cost model, one row per store (TVM's idea), taken from
the *lowered* TIR: loops as the backend runs them, vector IR, flat buffers.

:func:`lower` runs a scheduled module through the target's TIR passes (the driver's
``tir_stage``, with the backend's ``tir_passes``), as ``mlc.build`` would before
code generation; :func:`extract` walks the result. It also walks TensorIR that is
not lowered (blocks and their bindings), which :func:`estimate_flops` uses on
unscheduled workloads.

For every ``BufferStore`` the walk records:

- how often it runs (the product of the loop extents above it) and its lanes (a
  vector store of ``T.Ramp`` indices does ``lanes`` elements at once);
- the loop nest: depth, innermost extent, the extents of the parallel, vectorized
  and unrolled loops above it;
- the arithmetic of the stored value in element operations (a vector operation
  counts its lanes): float adds, multiplies, divisions, math calls, comparisons
  and selects, integer operations; and the vector operations among them;
- its accesses: how each moves along the innermost loop (unit stride, strided,
  reused: the innermost loop does not move it), contiguous vector loads, gathers
  and broadcasts, the distinct buffers it touches;
- reuse: per access, the innermost loop that does not move it; the iterations
  between two uses (the loops inside that one: the *reuse distance*) and how often
  it is reused (that loop's extent), the largest distance and the smallest count;
- touch counts: the bytes its accesses touch in the whole nest, in one iteration of
  the outermost loop that is not parallel (one thread's task), and in one iteration
  of the innermost serial loop (one step of a reduction);

and per function the bytes allocated (all of it, ``local`` scope alone) and how often
allocations run. :func:`extract` sums and maxes the per-store rows (weighted by how
often each runs, log-scaled) into one fixed-length vector per function.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((64, 64), "float32", "A")
>>> B = te.compute((64, 64), lambda i, j: A[i, j] * 2 + 1, "B")
>>> rows = store_features(te.create_prim_func([A, B]))
>>> rows[0]["runs"], rows[0]["float_mul"], rows[0]["float_add"], rows[0]["load_unit"]
(4096, 1, 1, 1)
>>> avx2 = mlc.Target("llvm", "haswell")
>>> scheduled = mlc.driver.schedule_module(mlc.IRModule({"main": te.create_prim_func([A, B])}), avx2)
>>> row = store_features(lower(scheduled, avx2)["main"])[0]
>>> row["lanes"], row["runs"] * row["lanes"], row["load_vector"], row["vector_ops"]
(16, 4096, 1, 2)
"""
from __future__ import annotations

import math

import numpy as np

from ..backends.registry import BuildOptions, get_backend
from ..ir.calls import is_graph_main
from ..ir import dtype as dt
from ..ir.expr import Binary, Broadcast, BufferLoad, Call, IntImm, Ramp, Select, Var
from ..ir.functor import pre_order_nodes
from ..ir.tir import Allocate, Block, BlockRealize, BufferStore, For, IfThenElse, IRModule, SeqStmt
from ..passes.tir.pipeline import RENDER_PASSES, run_passes
from ..target import Target

__all__ = ["store_features", "extract", "lower", "FEATURE_NAMES", "estimate_flops"]

_STORE_KEYS = ("runs", "lanes", "loops", "innermost", "parallel", "vector", "unroll",
               "float_add", "float_mul", "float_div", "float_math", "compare", "int_ops", "vector_ops",
               "loads", "load_unit", "load_strided", "load_reuse", "load_vector", "load_gather", "load_broadcast",
               "buffers", "store_unit", "store_strided", "store_reuse", "local_store", "predicated",
               "reuse_distance", "reuse_count", "touch_bytes", "touch_task_bytes", "touch_step_bytes")
#: the keys whose value is per run of the store (weighted by how often it runs in :func:`extract`)
_PER_RUN = _STORE_KEYS.index("float_add")
#: the names of the entries of :func:`extract`'s vector
FEATURE_NAMES = tuple(f"sum_{k}" for k in _STORE_KEYS) + tuple(f"max_{k}" for k in _STORE_KEYS) + (
    "stores", "alloc_bytes", "alloc_local_bytes", "alloc_runs", "total_runs")


def lower(mod, target):
    """``mod``, already scheduled (``mlc.driver.schedule_module``, a Schedule's ``mod``),
    through ``target``'s TIR passes, as ``mlc.build`` lowers it before code generation, but
    for the passes that write loops out for the renderer (``RENDER_PASSES``: an unrolled loop
    stays a loop of kind "unroll", as the cost model's features count it)."""
    target = Target.from_str(target)
    passes = tuple(p for p in get_backend(target.kind).tir_passes(target, BuildOptions()) if p not in RENDER_PASSES)
    return IRModule({name: func if is_graph_main(func) else run_passes(func, passes) for name, func in mod.items()})


def _extent(loop: For) -> int:
    return loop.extent.value if isinstance(loop.extent, IntImm) else 1


def _depends(expr, loop_ids: dict[int, int], binding: dict[int, frozenset]) -> frozenset:
    """The positions (in the loop stack) of the loops whose variables ``expr`` uses,
    through block bindings."""
    out: set[int] = set()
    for n in pre_order_nodes(expr):
        if isinstance(n, Var):
            if id(n) in loop_ids:
                out.add(loop_ids[id(n)])
            elif id(n) in binding:
                out |= binding[id(n)]
    return frozenset(out)


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
            loop_ids = {id(f.loop_var): n for n, f in enumerate(loops)}
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


def _coefficient(e, var: Var, pos: int, binding: dict) -> int | None:
    """How much ``e`` (an index) grows per step of ``var`` (loop ``pos`` of the stack);
    None when not linear in it. A block iterator whose binding uses ``var`` counts as 1
    (the bindings of te's form are the loop variables themselves)."""
    if isinstance(e, Var):
        return 1 if e is var or pos in binding.get(id(e), ()) else 0
    if isinstance(e, IntImm):
        return 0
    if isinstance(e, Ramp):
        return _coefficient(e.base, var, pos, binding)
    if isinstance(e, Binary) and e.op in ("add", "sub", "mul"):
        a, b = _coefficient(e.a, var, pos, binding), _coefficient(e.b, var, pos, binding)
        if a is None or b is None:
            return None
        if e.op == "add":
            return a + b
        if e.op == "sub":
            return a - b
        if isinstance(e.b, IntImm):
            return a * e.b.value
        if isinstance(e.a, IntImm):
            return b * e.a.value
        return 0 if a == b == 0 else None
    return 0 if not any(isinstance(n, Var) and (n is var or pos in binding.get(id(n), ()))
                        for n in pre_order_nodes(e)) else None


class _Access:
    """One load or store of a store statement: which loops move it, how it moves along
    the innermost one, how many elements and bytes one run of it touches."""

    def __init__(self, buffer, indices, loops, loop_ids, binding):
        index = indices[-1] if indices else None
        self.lanes = index.lanes if isinstance(index, Ramp) else 1
        self.stride = index.stride if isinstance(index, Ramp) else 0
        deps = [_depends(ix, loop_ids, binding) for ix in indices]
        self.deps = frozenset().union(*deps) if deps else frozenset()
        inner = len(loops) - 1
        if inner < 0 or inner not in self.deps:
            self.movement = "reuse"
        elif any(inner in d for d in deps[:-1]):
            self.movement = "strided"
        else:  # the last index moves by at most the access's lanes per iteration: contiguous
            step = _coefficient(index, loops[inner].loop_var, inner, binding)
            self.movement = "unit" if step is not None and abs(step) <= self.lanes else "strided"
        self.bytes = max(1, dt.bits(dt.element(buffer.dtype)) // 8)

    def touched(self, loops, start: int) -> int:
        """Bytes this access touches in one iteration of loop ``start - 1`` (the loops from
        ``start`` inwards)."""
        elements = math.prod(_extent(loops[n]) for n in self.deps if n >= start)
        return elements * self.lanes * self.bytes

    def reuse(self, loops) -> tuple[int, int]:
        """``(distance, count)``: iterations between two uses and how often it is used again,
        from the innermost loop that does not move it; (0, 0) when every loop moves it."""
        for n in range(len(loops) - 1, -1, -1):
            if n not in self.deps and _extent(loops[n]) > 1:
                return math.prod(_extent(f) for f in loops[n + 1:]), _extent(loops[n])
        return 0, 0


def _store_row(store: BufferStore, loops, binding, predicated: bool) -> dict:
    loop_ids = {id(f.loop_var): n for n, f in enumerate(loops)}
    row = dict.fromkeys(_STORE_KEYS, 0)
    lanes = dt.lanes(store.value.dtype)
    row["runs"] = math.prod(_extent(f) for f in loops)
    row["lanes"] = lanes
    row["loops"] = len(loops)
    row["innermost"] = _extent(loops[-1]) if loops else 1
    row["parallel"] = math.prod(_extent(f) for f in loops if f.kind == "parallel")
    row["vector"] = math.prod(_extent(f) for f in loops if f.kind == "vectorized") * lanes
    row["unroll"] = math.prod(_extent(f) for f in loops if f.kind == "unrolled")
    row["predicated"] = int(predicated)
    accesses = [_Access(store.buffer, store.indices, loops, loop_ids, binding)]
    buffers = {id(store.buffer)}
    for n in pre_order_nodes(store.value):
        width = dt.lanes(n.dtype) if hasattr(n, "dtype") else 1
        if isinstance(n, Binary):
            is_float = dt.is_float(dt.element(n.a.dtype)) if hasattr(n.a, "dtype") else False
            if n.op in ("add", "sub") and is_float:
                row["float_add"] += width
            elif n.op == "mul" and is_float:
                row["float_mul"] += width
            elif n.op in ("div", "floordiv", "floormod") and is_float:
                row["float_div"] += width
            elif n.op in ("lt", "le", "gt", "ge", "eq", "ne", "max", "min"):
                row["compare"] += width
            else:
                row["int_ops"] += width
            row["vector_ops"] += int(width > 1)
        elif isinstance(n, Call):
            row["float_math"] += width
            row["vector_ops"] += int(width > 1)
        elif isinstance(n, Select):
            row["compare"] += width
        elif isinstance(n, Broadcast) and isinstance(n.value, BufferLoad):
            row["load_broadcast"] += 1
        elif isinstance(n, BufferLoad):
            row["loads"] += 1
            buffers.add(id(n.buffer))
            access = _Access(n.buffer, n.indices, loops, loop_ids, binding)
            accesses.append(access)
            row[f"load_{access.movement}"] += 1
            if access.lanes > 1:
                row["load_vector" if access.stride == 1 else "load_gather"] += 1
    row[f"store_{accesses[0].movement}"] += 1
    row["local_store"] = int(store.buffer.scope == "local")
    row["buffers"] = len(buffers)
    reuse = [a.reuse(loops) for a in accesses]
    row["reuse_distance"] = max(d for d, _ in reuse)
    row["reuse_count"] = min((c for _, c in reuse if c), default=0)
    task = next((n for n, f in enumerate(loops) if f.kind != "parallel"), len(loops))
    step = next((n + 1 for n in range(len(loops) - 1, -1, -1) if loops[n].kind == "serial"), 0)
    row["touch_bytes"] = sum(a.touched(loops, 0) for a in accesses)
    row["touch_task_bytes"] = sum(a.touched(loops, task) for a in accesses)
    row["touch_step_bytes"] = sum(a.touched(loops, step) for a in accesses)
    return row


def _allocations(func) -> tuple[int, int, int]:
    """Bytes allocated (all, ``local`` scope) and how many allocations run in a call."""
    total = local = runs = 0

    def count(buf, times: int) -> None:
        nonlocal total, local, runs
        size = math.prod(s.value if isinstance(s, IntImm) else 1 for s in buf.shape)
        nbytes = size * max(1, np.dtype(dt.element(buf.dtype)).itemsize)
        total += nbytes
        local += nbytes if buf.scope == "local" else 0
        runs += times

    stack = [(func.body, 1)]
    while stack:
        node, outer = stack.pop()
        if isinstance(node, For):
            stack.append((node.body, outer * _extent(node)))
        elif isinstance(node, SeqStmt):
            stack.extend((s, outer) for s in node.seq)
        elif isinstance(node, Allocate):
            count(node.buffer, outer)
            stack.append((node.body, outer))
        elif isinstance(node, IfThenElse):
            stack.append((node.then_case, outer))
            if node.else_case is not None:
                stack.append((node.else_case, outer))
        elif isinstance(node, BlockRealize):
            stack.append((node.block, outer))
        elif isinstance(node, Block):
            for buf in node.alloc_buffers:
                count(buf, outer)
            stack.append((node.body, outer))
    return total, local, runs


def extract(func) -> np.ndarray:
    """The feature vector of a function, lowered (:func:`lower`) or not (length
    ``len(FEATURE_NAMES)``)."""
    rows = store_features(func)
    table = np.array([[r[k] for k in _STORE_KEYS] for r in rows], dtype="float64").reshape(-1, len(_STORE_KEYS))
    runs = table[:, 0:1] if len(rows) else np.zeros((0, 1))
    # per-run counts weighted by how often the store runs, then log-scaled
    weighted = np.concatenate([table[:, :_PER_RUN], table[:, _PER_RUN:] * runs], axis=1) if len(rows) else table
    total, local, alloc_runs = _allocations(func)
    summed = np.log2(1 + weighted.sum(axis=0)) if len(rows) else np.zeros(len(_STORE_KEYS))
    maxed = np.log2(1 + weighted.max(axis=0)) if len(rows) else np.zeros(len(_STORE_KEYS))
    extra = np.log2(1 + np.array([len(rows), total, local, alloc_runs, float(runs.sum()) if len(rows) else 0.0]))
    return np.concatenate([summed, maxed, extra])


def estimate_flops(func) -> float:
    """Floating-point operations one call of ``func`` performs (its stores' float arithmetic)."""
    flops = 0.0
    for r in store_features(func):
        flops += r["runs"] * (r["float_add"] + r["float_mul"] + r["float_div"] + r["float_math"] + r["compare"])
    return flops
