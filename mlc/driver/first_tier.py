"""``mlc.build``'s first tier: a large contraction runs through NumPy while it compiles.

A te matrix product as written (``C[i, j] = sum_k A[i, k] * B[k, j]``, one block under its
loops) compiles for some hundreds of milliseconds (its schedule, the TIR passes, LLVM's O3
of a packed, unrolled kernel), where NumPy's BLAS runs it in some milliseconds; and its run
is too long for unoptimised code (:func:`~.tiers.quick_enough`), the jit's other quick tier.
So, as a jitted function's first call runs its traced graph through NumPy
(:mod:`mlc.tracer.tiering`), a tiered build (``mlc.build(..., tiered=True)``, by default
``MLC_TIERED``) of a module whose every function is such a contraction
(:func:`contraction`) of more than :data:`~.tiers.QUICK_WORK_LIMIT` multiply-adds returns at
once a :class:`FirstTierModule`: its functions run the contraction through ``np.einsum``
(BLAS), while the background thread (:mod:`.background`) builds the module as an untiered
build does (the user's schedule, or the database's, or the default rules; then LLVM at O3)
and swaps each function's compiled code in, attribute by attribute, each attribute a whole
program: a call runs either NumPy or the compiled kernel, never a mixture. Steady state is
the optimised build, as without tiers; :meth:`FirstTierModule.wait` (or
``mlc.tiering.wait()``) blocks until it is in use.

* The results are NumPy's: a float sum rounds in BLAS's order, where the compiled kernel's
  may differ in the last bits (as between two schedules). An integer product is computed
  exactly (in float64, whose 53 bits hold every partial sum) and only where no partial sum
  can pass the accumulator's range, so it equals the compiled kernel's.
* An error of the build (an illegal user schedule) is raised by the first call after the
  build failed, and by :meth:`FirstTierModule.wait`, instead of by ``mlc.build``.
* Anything else asked of the module (``get_source``, ``export_library``, ``time_evaluator``)
  waits for the optimised build and asks it.

>>> from mlc import te
>>> from mlc.ir.tir import IRModule
>>> A = te.placeholder((64, 32), "float32", "A")
>>> B = te.placeholder((32, 16), "float32", "B")
>>> k = te.reduce_axis((0, 32), "k")
>>> C = te.compute((64, 16), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "C")
>>> c = contraction(te.create_prim_func([A, B, C]))
>>> c.spec, c.operands, c.out, c.multiply_adds
('ac,cb->ab', (0, 1), 2, 32768)
"""
from __future__ import annotations

import string
import threading
from dataclasses import dataclass

import numpy as np

from ..ir import dtype as dt
from ..ir.expr import Binary, BufferLoad, Cast, FloatImm, IntImm, Var
from ..ir.tir import BlockRealize, BufferStore, For, IRModule, PrimFunc
from ..runtime.module import Function, Module
from . import background
from .tiers import QUICK_WORK_LIMIT

__all__ = ["Contraction", "contraction", "first_tier", "FirstTierModule"]

#: The largest value an integer accumulator may reach for the tier to compute its sums in
#: float64 (exact below 2**53) and equal the compiled kernel's: none of its sums may wrap.
_EXACT_INT = {"int32": 2 ** 31 - 1, "int64": 2 ** 53}


@dataclass(frozen=True)
class Contraction:
    """``out = einsum(spec, *operands)`` over a PrimFunc's parameters (by position)."""
    spec: str
    operands: tuple[int, int]
    out: int
    multiply_adds: int
    #: the operands converted to float64 first (an integer product, exact there)
    through_float64: bool


def contraction(func: PrimFunc) -> Contraction | None:
    """The contraction ``func`` computes, where it is one block ``out[s] = sum_r a[..] * b[..]``
    (started at zero) under a nest of serial loops, every index a block iterator ranging over
    its whole axis (no slice, no diagonal, no offset), the product in the output's dtype (or
    of its operands widened to it); None for anything else."""
    body = func.body
    if not isinstance(body, BlockRealize) or body.block.alloc_buffers or body.block.init is not None:
        return None
    loops, stmt = [], body.block.body
    while isinstance(stmt, For):
        if (stmt.kind != "serial" or stmt.thread_binding is not None or not _is_int(stmt.min, 0)
                or not isinstance(stmt.extent, IntImm)):
            return None
        loops.append(stmt)
        stmt = stmt.body
    if not isinstance(stmt, BlockRealize) or not _is_int(stmt.predicate, 1):
        return None
    block = stmt.block
    if (block.alloc_buffers or len(stmt.iter_values) != len(loops) or len(block.iter_vars) != len(loops)
            or any(v is not loop.loop_var for v, loop in zip(stmt.iter_values, loops))):
        return None
    extents, letters = {}, {}
    for iv, loop in zip(block.iter_vars, loops):
        if (not _is_int(iv.dom.min, 0) or not _is_int(iv.dom.extent, loop.extent.value)
                or iv.iter_type not in ("spatial", "reduce") or len(letters) >= len(string.ascii_letters)):
            return None
        extents[iv.var] = loop.extent.value
        letters[iv.var] = string.ascii_letters[len(letters)]
    spatial = [iv.var for iv in block.iter_vars if iv.iter_type == "spatial"]
    init, update = block.init, block.body
    if not (isinstance(init, BufferStore) and isinstance(update, BufferStore) and init.buffer is update.buffer):
        return None
    out = update.buffer
    value = update.value
    if not (isinstance(init.value, (IntImm, FloatImm)) and init.value.value == 0
            and isinstance(value, Binary) and value.op == "add" and isinstance(value.b, Binary)
            and value.b.op == "mul" and isinstance(value.a, BufferLoad) and value.a.buffer is out):
        return None
    out_access = _access(out, update.indices, extents)
    if (out_access is None or _access(out, init.indices, extents) != out_access
            or _access(out, value.a.indices, extents) != out_access or sorted(out_access, key=id) != sorted(spatial, key=id)):
        return None
    acc = out.dtype
    operands = [_operand(x, acc, extents) for x in (value.b.a, value.b.b)]
    if any(o is None for o in operands):
        return None
    if {id(v) for _, access in operands for v in access} != {id(iv.var) for iv in block.iter_vars}:
        return None  # (an iterator no factor reads: a broadcast, or a sum of copies)
    params = list(func.params)
    positions = [_position(params, o[0]) for o in operands]
    out_position = _position(params, out)
    if None in positions or out_position is None or out_position in positions:
        return None
    through_float64 = np.dtype(acc).kind in "iu"
    if through_float64:
        bound = np.prod([extents[iv.var] for iv in block.iter_vars if iv.iter_type == "reduce"], dtype=object)
        for buffer, _ in operands:
            info = np.iinfo(buffer.dtype)
            bound *= max(abs(int(info.min)), int(info.max))
        if acc not in _EXACT_INT or bound > _EXACT_INT[acc]:
            return None
    spec = (",".join("".join(letters[v] for v in access) for _, access in operands)
            + "->" + "".join(letters[v] for v in out_access))
    work = int(np.prod(list(extents.values()), dtype=object))
    return Contraction(spec, (positions[0], positions[1]), out_position, work, through_float64)


def _is_int(expr, value: int) -> bool:
    return isinstance(expr, IntImm) and expr.value == value


def _position(params, buffer):
    return next((n for n, p in enumerate(params) if p is buffer), None)


def _access(buffer, indices, extents: dict) -> tuple | None:
    """The block iterators indexing ``buffer`` (one per axis, each over the whole axis, none
    twice), or None."""
    if (buffer.scope != "global" or buffer.strides or dt.lanes(buffer.dtype) != 1
            or len(indices) != len(buffer.shape)):
        return None
    for index, size in zip(indices, buffer.shape):
        if not (isinstance(index, Var) and index in extents and _is_int(size, extents[index])):
            return None
    if len(set(map(id, indices))) != len(indices):
        return None
    return tuple(indices)


def _operand(expr, acc: str, extents: dict):
    """(buffer, its access) of a factor of the product: a load in ``acc``'s dtype, or a load
    widened to it (a narrower float to a float, a narrower integer to an integer)."""
    if isinstance(expr, Cast) and expr.dtype == acc and isinstance(expr.value, BufferLoad):
        source = expr.value.buffer.dtype
        if not _widens(source, acc):
            return None
        expr = expr.value
    elif not isinstance(expr, BufferLoad) or expr.buffer.dtype != acc:
        return None
    access = _access(expr.buffer, expr.indices, extents)
    return None if access is None else (expr.buffer, access)


def _widens(source: str, acc: str) -> bool:
    try:
        src, dst = np.dtype(source), np.dtype(acc)
    except TypeError:
        return False
    if src.kind == "f" and dst.kind == "f":
        return src.itemsize <= dst.itemsize
    return src.kind in "iu" and dst.kind == "i" and np.can_cast(src, dst, "safe")


def _numpy_kernel(c: Contraction, dtype: str, then):
    """The kernel that computes ``c`` through NumPy, on the checked arrays: a matrix product
    (of the operands or their transposes) through ``np.matmul`` into the output, else
    ``np.einsum``; ``then()`` after each run."""
    out_type = np.dtype(dtype)
    product = _as_matmul(c.spec)

    def kernel(arrays):
        a, b, out = arrays[c.operands[0]], arrays[c.operands[1]], arrays[c.out]
        if c.through_float64:
            a, b = a.astype(np.float64), b.astype(np.float64)
        else:
            a, b = a.astype(out_type, copy=False), b.astype(out_type, copy=False)
        if product is None:
            np.copyto(out, np.einsum(c.spec, a, b, optimize=True), casting="unsafe")
        else:
            _matmul(a, b, out, *product)
        then()
    return kernel


def _matmul(a, b, out, transpose_a: bool, transpose_b: bool, transpose_out: bool) -> None:
    """``out = (a or a.T) @ (b or b.T)``, or ``out.T`` that, through ``np.matmul``."""
    a, b = (a.T if transpose_a else a), (b.T if transpose_b else b)
    if transpose_out:
        a, b, out = b.T, a.T, out.T
    if out.dtype == a.dtype:
        np.matmul(a, b, out=out)
    else:
        np.copyto(out, np.matmul(a, b), casting="unsafe")


def _as_matmul(spec: str) -> tuple[bool, bool, bool] | None:
    """Whether ``spec`` (two operands) is a matrix product of ``(a or a.T) @ (b or b.T)``,
    written into ``out`` or ``out.T``: (transpose a, transpose b, transpose out); None
    otherwise.

    >>> _as_matmul("ac,cb->ab"), _as_matmul("ca,bc->ba"), _as_matmul("abc,cd->abd")
    ((False, False, False), (True, True, True), None)
    """
    ins, out = spec.split("->")
    a, b = ins.split(",")
    shared = set(a) & set(b)
    if not (len(a) == len(b) == len(out) == 2 and len(shared) == 1 and not shared & set(out)):
        return None
    (r,) = shared
    i, j = a.replace(r, ""), b.replace(r, "")
    if set(out) != {i, j}:
        return None
    return a != i + r, b != r + j, out != i + j


class FirstTierModule(Module):
    """A built module whose functions run through NumPy until the optimised build of the same
    module, made in the background, replaces their code (see the module's docstring). The
    build begins once the first call has returned (as a jitted function's eager first tier
    has it: the call does not share the cores with it), or when something asks for the
    optimised build (:meth:`wait`)."""

    def __init__(self, target, functions, build):
        super().__init__(target, functions)
        self._build = build
        self._started = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._built: Module | None = None
        self._error: BaseException | None = None

    @property
    def is_first_tier(self) -> bool:
        """Whether the functions still run through NumPy (the optimised build is not in use)."""
        return self._built is None

    def start(self) -> bool:
        """Begin the optimised build on the background thread, unless begun already (False:
        begun, or the process is exiting)."""
        with self._lock:
            if self._started:
                return False
            self._started = True
        if background.submit(self._finish):
            return True
        self._error = RuntimeError("mlc: the process is exiting; this module's optimised build was not begun")
        self._done.set()
        return False

    def wait(self, timeout: float | None = None) -> Module | None:
        """The optimised build, once in use (None where ``timeout`` seconds passed first); the
        build's error, raised, where it failed."""
        self.start()
        if not self._done.wait(timeout):
            return None
        if self._error is not None:
            raise self._error
        return self._built

    def _finish(self) -> None:
        """Build the module (on the background thread) and swap each function's code in; or
        keep the error, which every later call raises."""
        try:
            lib = self._build()
        except BaseException as err:
            self._error = err
            for function in set(self.functions.values()):
                function.checked_kernel = function.pointer_kernel = None
                function.kernel = _raiser(err)
            self._done.set()
            return
        for function in {id(f): f for f in self.functions.values()}.values():  # (an alias: once)
            built = lib[function.name]
            # each slot one assignment, each a whole program; the native checked entry last
            for slot in Function.__slots__:
                if slot != "checked_kernel":
                    setattr(function, slot, getattr(built, slot))
            function.checked_kernel = built.checked_kernel
        self._sources = lib._sources
        self._keepalive = lib
        self._built = lib
        self._done.set()

    def get_source(self, fmt: str | None = None) -> str:
        return self.wait().get_source(fmt)

    def time_evaluator(self, name: str, dev=None, number: int = 10, repeat: int = 3, warmup: int = 1):
        self.wait()
        return super().time_evaluator(name, dev, number, repeat, warmup)

    def __getattr__(self, name: str):  # (what only the built module has: export_library, ...)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.wait(), name)

    def __repr__(self) -> str:
        tier = "first tier, NumPy" if self.is_first_tier else "optimised"
        return f"<mlc.Module target={self.target} functions={self.function_names} ({tier})>"


def _raiser(err: BaseException):
    def kernel(arrays):
        raise err
    return kernel


def first_tier(mod: IRModule, target, build) -> FirstTierModule | None:
    """A :class:`FirstTierModule` of ``mod`` whose optimised build ``build()`` runs in the
    background (begun by the first call), where every function of ``mod`` is a
    :func:`contraction` of more than :data:`~.tiers.QUICK_WORK_LIMIT` multiply-adds; None
    otherwise (and where the process is exiting)."""
    if not mod.items() or background.closed():
        return None
    contractions = {}
    for name, func in mod.items():
        c = contraction(func) if isinstance(func, PrimFunc) else None
        if c is None or c.multiply_adds <= QUICK_WORK_LIMIT:
            return None
        contractions[name] = c
    lib = FirstTierModule(target, {}, build)
    for name, c in contractions.items():
        lib.functions[name] = Function(name, mod[name], _numpy_kernel(c, mod[name].params[c.out].dtype, lib.start))
    return lib
