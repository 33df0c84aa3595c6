"""vectorize_loops: ``vectorized`` loops of constant extent become vector IR.

A loop ``for v in T.vectorized(N)`` whose body is stores of plain arithmetic
becomes straight-line vector statements over ``N`` lanes, as TVM's
VectorizeLoop does: the lane variable is ``T.Ramp(min, 1, N)``; an access
whose index moves by a constant per lane has the index ``T.Ramp(base, stride,
N)`` (a contiguous vector load or store when the stride is 1); a value that
does not depend on ``v`` stays a scalar and is ``T.Broadcast`` where a vector
meets it; any other index is a vector of per-lane indices (a gather). Binary
operations, comparisons and selects of vectors have vector dtypes
(``float32x16``). See docs/ir-semantics.md for what these nodes mean.

The lanes run in lockstep, statement by statement, which is the loop's
meaning only when no lane sees another lane's writes:
:func:`mlc.ir.analysis.lanes_independent` proves that first, and a loop it
cannot prove stays a loop.

Every other ``vectorized`` loop (math calls, casts, nested loops, conditions,
float16 or bool memory, a non-constant extent, more than :data:`MAX_LANES`
lanes) stays a ``vectorized`` loop: the backends run it as a serial loop (the
LLVM backend asks LLVM's loop vectorizer to widen it).

A vectorized loop guarded by a predicate (``T.where`` of a split that does not
divide the extent: ``if i0 * 16 + v < 4094``) would make every vector a masked
one. The predicate's conjuncts that no lane depends on (a ragged row tile's ``if
i_0 * 6 + i_2 < 2048`` around its columns) are tested once around the loop
(:func:`hoist_invariant_guard`). When the predicate is a conjunction of comparisons of expressions affine
in the lane variable, it holds for every lane exactly when it holds for the
first and the last lane (:func:`full_vector_guard`); the loop becomes
``if <first and last lane pass>: <the loop without the predicate> else: <the
loop as it was>`` (every vector but the last runs unmasked). Where the predicate's
lane-dependent part holds on lanes that are known constants (the ragged tile that
:func:`~.partition_tiles.partition_tiles` peels off: ``if 960 + v < 1000`` in a loop
of 64 lanes), the loop runs just those lanes, unguarded (``T.vectorized(0, 32)`` and
``T.vectorized(32, 8)``): vectors of 32 and 8 lanes instead of a scalar loop of 64 tests.

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.expr import Var
>>> from mlc.ir.tir import BufferStore, For, PrimFunc
>>> A, B = decl_buffer((64,), "float32", "A"), decl_buffer((64,), "float32", "B")
>>> i, j = Var("i"), Var("j")
>>> loop = For(j, IntImm(0), IntImm(16), "vectorized", BufferStore(B, A[i * 16 + j] * 2, (i * 16 + j,)))
>>> print(vectorize_loops(PrimFunc((A, B), loop)).script().splitlines()[-1].strip())
B[T.Ramp(i * 16, 1, 16)] = A[T.Ramp(i * 16, 1, 16)] * T.Broadcast(T.float32(2), 16)
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from ...ir import dtype as dt
from ...ir.analysis import lane_stride, lanes_independent
from ...ir.analysis.census import contains
from ...ir.arith import same_expr
from ...ir.expr import (COMPARE_OPS, LOGIC_OPS, REINTERPRET, Binary, Broadcast, BufferLoad, Call, Cast, FloatImm,
                        IntImm, Let, Not, PrimExpr, Ramp, Select, Var, and_all, conjuncts, const)
from ...ir.functor import Mutator, binary_chain, pre_order_nodes, substitute
from ...ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt, Stmt, seq
from .simplify import simplify_expr

__all__ = ["vectorize_loops", "hoist_invariant_guard", "full_vector_guard", "constant_lanes", "scalars_as_lets",
           "ELEMENTWISE_CALLS", "MAX_LANES"]

#: Vectorized loops with a constant extent from 2 up to this many lanes become vector IR.
MAX_LANES = 64

_MEMORY_DTYPES = frozenset({"float32", "float64", "int32", "int64"})
#: A vector copy of ``copy_dtypes`` (vectorize_loops) may have more than ``max_lanes`` lanes,
#: up to this many bytes (8 float16: one 16-byte access on a GPU).
COPY_BYTES = 16
_FLOAT_OPS = frozenset({"add", "sub", "mul", "div", "min", "max"})
_INT_OPS = frozenset({"add", "sub", "mul", "min", "max", "bitand", "bitor", "bitxor", "shl", "shr"})
#: The nodes :meth:`_Lanes.value` gives a vector form (those a gather's index may hold).
_VECTOR_NODES = (Var, IntImm, FloatImm, BufferLoad, Binary, Select, Cast, Not, Call, Let)
#: Math calls computed on vectors lane for lane as on scalars where a backend asks for
#: ``vector_lets`` (:func:`vectorize_loops`: what the routines of :mod:`.lower_math` are built of).
ELEMENTWISE_CALLS = frozenset({"fma", "abs", "sqrt", "copysign", "round", "floor", "isnan"})
#: The dtypes of a vector Let's value (a statement's local scalar, see :func:`scalars_as_lets`).
_LET_DTYPES = frozenset({"float32", "float64", "int32", "int64", "bool"})


def vectorize_loops(func: PrimFunc, max_lanes: int = MAX_LANES,
                    math_calls: bool | Mapping[str, Collection[str]] = False,
                    copy_dtypes: Collection[str] = (), vector_lets: bool = False) -> PrimFunc:
    """Turn each ``vectorized`` loop of lowered ``func`` that can run as lockstep lanes into
    vector statements (see the module docstring); the other loops stay as they are.

    ``max_lanes``: loops of more lanes stay loops (a GPU thread's vector is 4 floats: 16
    bytes). ``math_calls``: float math calls (``T.tanh``, ...) get a vector form too, for a
    backend that renders them lane by lane (CUDA: True); or a mapping of op names to the
    dtypes whose calls do (the LLVM backend's ``sin``, ``cos`` and ``tan`` of float64,
    libm's functions the trig routines call on their rare lanes:
    :data:`mlc.backends.llvm.generate.LARGE_LANE_CALLS`), the other math calls keeping their loop
    for LLVM's loop vectorizer. ``copy_dtypes``: element types
    beyond float32/64 and int32/64 whose loops only copy (``S[i] = A[j]``) become vector
    copies too (CUDA: float16, moved as raw bytes). ``vector_lets``: a statement's local
    scalars (:func:`scalars_as_lets`) become vector ``Let``s, and the :data:`ELEMENTWISE_CALLS`,
    ``reinterpret``, casts between floats and from signed ints, and shifts get vector forms:
    what the routines :mod:`.lower_math` writes out are built of (the LLVM backend)."""
    body = _Vectorize(func.may_overlap, max_lanes, math_calls, frozenset(copy_dtypes),
                      vector_lets).visit(func.body)
    return func if body is func.body else func.with_body(body)


def hoist_invariant_guard(s: For) -> IfThenElse | None:
    """For a vectorized loop whose body is ``if cond: body`` (no else) where some conjuncts
    of ``cond`` do not depend on the lane (index arithmetic only: no loads, no calls):
    ``if <those conjuncts>: <the loop, guarded by the others>``, else None.

    Every lane tests the same value there, so the lanes run all or none: the row guard of
    a ragged register tile (``if i_0 * 6 + i_2 < 2048`` around a loop of 64 column lanes)
    becomes one test around one vector statement, where a guard of the first and the last
    lane kept the 64-lane loop as it was beside the vector for the lanes that can never
    differ (24 such loops in a 2048^3 matmul's ragged micro-kernel, each one widened by
    LLVM again, at a cost in compile time: ``benchmarks/results/decisions.md``, "TIR passes").

    >>> from mlc.ir.buffer import decl_buffer
    >>> from mlc.ir.expr import Var
    >>> A = decl_buffer((64,), "float32", "A")
    >>> i, j = Var("i"), Var("j")
    >>> loop = For(j, IntImm(0), IntImm(16), "vectorized", IfThenElse(i < 3, BufferStore(A, const(1.0, "float32"), (i * 16 + j,))))
    >>> print(PrimFunc((A,), loop).script())
    @T.prim_func
    def main(A: T.Buffer((64,), "float32")):
        for j in T.vectorized(16):
            if i < 3:
                A[i * 16 + j] = T.float32(1)
    >>> print(PrimFunc((A,), hoist_invariant_guard(loop)).script())
    @T.prim_func
    def main(A: T.Buffer((64,), "float32")):
        if i < 3:
            for j in T.vectorized(16):
                A[i * 16 + j] = T.float32(1)

    :func:`vectorize_loops` then makes the loop one vector store under the test.
    """
    body = s.body
    if not (s.kind == "vectorized" and isinstance(body, IfThenElse) and body.else_case is None):
        return None
    invariant, rest = [], []
    for c in conjuncts(body.condition):
        lane_free = not any(n is s.loop_var or isinstance(n, (BufferLoad, Call)) for n in pre_order_nodes(c))
        (invariant if lane_free else rest).append(c)
    if not invariant:
        return None
    inner = body.then_case if not rest else IfThenElse(and_all(rest), body.then_case)
    return IfThenElse(and_all(invariant), replace(s, body=inner))


def full_vector_guard(s: For) -> tuple[PrimExpr, For] | None:
    """For a vectorized loop whose body is ``if cond: body`` (no else) with ``cond``
    monotone in the lane variable: (``cond`` at the first lane and at the last lane,
    the loop with ``body`` alone), else None.

    ``cond`` is a conjunction of integer comparisons ``a < b`` (``<=``, ``>``, ``>=``)
    whose sides move by a constant per lane (:func:`lane_stride`), and of lane-invariant
    terms. ``a - b`` is then affine in the lane, and an affine function is below (or
    above) a bound on a range of lanes exactly when it is at both ends of the range:
    where the returned guard holds, ``body`` runs for every lane, and the loop without
    the predicate does what the loop with it does.
    """
    body = s.body
    if not (s.kind == "vectorized" and isinstance(body, IfThenElse) and body.else_case is None
            and _monotone_in(body.condition, s.loop_var)):
        return None
    index = s.loop_var.dtype
    one = IntImm(1, index)
    last = simplify_expr(Binary("sub", Binary("add", s.min, s.extent, index), one, index))
    first_ok = substitute(body.condition, {s.loop_var: s.min})
    last_ok = substitute(body.condition, {s.loop_var: last})
    unguarded = For(s.loop_var, s.min, s.extent, s.kind, body.then_case, s.thread_binding, s.annotations)
    return Binary("and", first_ok, last_ok, "bool"), unguarded


class _Vectorize(Mutator):
    def __init__(self, may_overlap, max_lanes: int = MAX_LANES,
                 math_calls: bool | Mapping[str, Collection[str]] = False, copy_dtypes: frozenset = frozenset(),
                 vector_lets: bool = False):
        # a loop whose stores go to memory no other buffer may share vectorizes (the lanes'
        # independence is proved buffer by buffer); ``may_overlap``: the function's answer
        self.may_overlap, self.max_lanes, self.math_calls = may_overlap, max_lanes, math_calls
        self.copy_dtypes, self.vector_lets = copy_dtypes, vector_lets

    def visit_IfThenElse(self, s: IfThenElse) -> Stmt:
        """The split of a guarded loop is made once: its else branch, the guarded loop, is
        left as it is (so running the pass again changes nothing)."""
        if isinstance(s.else_case, For):
            guarded = full_vector_guard(s.else_case)
            if guarded is not None and same_expr(guarded[0], s.condition):
                then = self.visit(s.then_case)
                return s if then is s.then_case else replace(s, then_case=then)
        return self.generic_visit(s)

    def visit_For(self, s: For) -> Stmt:
        s = self.generic_visit(s)
        return self._loop(s) if s.kind == "vectorized" else s

    def visit_SeqStmt(self, s: SeqStmt) -> Stmt:
        """A loop split into pieces of lanes joins the sequence it is in (so that lowering
        the result again changes nothing)."""
        out = self.generic_visit(s)
        if isinstance(out, SeqStmt) and any(isinstance(c, SeqStmt) for c in out.seq):
            return seq(*out.seq)
        return out

    def _loop(self, s: For) -> Stmt:
        hoisted = hoist_invariant_guard(s)
        if hoisted is not None:
            return IfThenElse(hoisted.condition, self._loop(hoisted.then_case))
        narrowed = constant_lanes(s)
        if narrowed is not None:
            rest, loops = narrowed
            pieces = loops.seq if isinstance(loops, SeqStmt) else (loops,)
            body = seq(*(self._loop(p) if isinstance(p, For) else p for p in pieces))
            return body if rest is None else IfThenElse(rest, body)
        guarded = full_vector_guard(s)
        if guarded is not None:
            full, unguarded = guarded
            return IfThenElse(full, self._loop(unguarded), s)
        stores = self._plan(s)
        if stores is None:
            return s
        lanes = _Lanes(s)
        vector = [lanes.store(st) for st in stores]
        return vector[0] if len(vector) == 1 else SeqStmt(tuple(vector))

    def _copy(self, st: BufferStore) -> bool:
        """A store that copies an element of one of ``copy_dtypes`` from a buffer (flat)."""
        v = st.value
        return (st.buffer.dtype in self.copy_dtypes and len(st.indices) == 1 and isinstance(v, BufferLoad)
                and v.buffer.dtype == st.buffer.dtype and len(v.indices) == 1)

    def _plan(self, s: For) -> list[BufferStore] | None:
        """The stores of ``s``'s body when it can run as vector statements, else None."""
        if not (isinstance(s.extent, IntImm) and 2 <= s.extent.value and s.loop_var.dtype == "int32"):
            return None
        stores = _flatten(s.body)
        if stores is None or any(self.may_overlap(st.buffer) for st in stores):
            return None
        if s.extent.value > self.max_lanes:  # copies: as many lanes as COPY_BYTES hold
            if not all(self._copy(st) and s.extent.value * dt.bits(st.buffer.dtype) <= 8 * COPY_BYTES
                       for st in stores):
                return None
        var = s.loop_var
        depends = _Dependence(var, self.math_calls, self.vector_lets)
        for st in stores:
            if self._copy(st):
                continue
            if (st.buffer.dtype not in _MEMORY_DTYPES or len(st.indices) != 1 or st.value.dtype != st.buffer.dtype
                    or not _supported(st.value, depends)):
                return None
        if not all(isinstance(n, _VECTOR_NODES) for st in stores for root in (st.value, st.indices[0])
                   for n in pre_order_nodes(root)):
            return None
        return stores if lanes_independent(stores, var) else None


def constant_lanes(s: For) -> tuple[PrimExpr | None, Stmt] | None:
    """For a vectorized loop of constant bounds whose body is ``if cond: body`` (no else)
    with ``cond`` monotone in the lane variable, and whose lane-dependent conjuncts are
    constants once a lane is chosen: (the other conjuncts, or None; loops over the lanes
    where the lane-dependent ones hold, running ``body`` unguarded: the loop whole when every
    lane does, else in pieces of a power of two lanes, or a no-op when none do), else None.
    A monotone conjunction holds on one range of lanes, so the loops over that range do what
    the guarded loop does.

    >>> from mlc.ir.buffer import decl_buffer
    >>> from mlc.ir.expr import Var
    >>> from mlc.ir.tir import BufferStore, For, IfThenElse
    >>> C, j = decl_buffer((1000,), "float32", "C"), Var("j")
    >>> loop = For(j, IntImm(0), IntImm(64), "vectorized",
    ...            IfThenElse(960 + j < 1000, BufferStore(C, FloatImm(0.0, "float32"), (960 + j,))))
    >>> rest, narrowed = constant_lanes(loop)
    >>> rest is None, [(piece.min.value, piece.extent.value) for piece in narrowed.seq]
    (True, [(0, 32), (32, 8)])
    """
    body = s.body
    if not (s.kind == "vectorized" and isinstance(body, IfThenElse) and body.else_case is None
            and isinstance(s.min, IntImm) and isinstance(s.extent, IntImm) and 0 < s.extent.value <= MAX_LANES
            and _monotone_in(body.condition, s.loop_var)):
        return None
    var = s.loop_var
    lane_terms, rest = [], []
    for term in conjuncts(body.condition):
        (lane_terms if any(n is var for n in pre_order_nodes(term)) else rest).append(term)
    if not lane_terms:
        return None
    cond = and_all(lane_terms)
    passing = []
    for lane in range(s.min.value, s.min.value + s.extent.value):
        value = simplify_expr(substitute(cond, {var: IntImm(lane, var.dtype)}))
        if not isinstance(value, IntImm):
            return None
        if value.value:
            passing.append(lane)
    if passing and passing != list(range(passing[0], passing[-1] + 1)):
        return None  # (a monotone condition holds on one range; anything else is left alone)
    guard = and_all(rest) if rest else None
    if not passing:
        return guard, Evaluate(const(0))
    if len(passing) == s.extent.value:  # every lane: the vector as it is, unguarded
        return guard, For(var, s.min, s.extent, s.kind, body.then_case, s.thread_binding, s.annotations)
    # in pieces of a power of two lanes, the widest first (40 lanes: 32 and 8): LLVM widens
    # a vector of any other length to the next power of two and splits it lane by lane
    pieces, start, left = [], passing[0], len(passing)
    while left:
        width = 1 << (left.bit_length() - 1)
        pieces.append(For(var, IntImm(start, var.dtype), IntImm(width, var.dtype), s.kind, body.then_case,
                          s.thread_binding, s.annotations))
        start, left = start + width, left - width
    return guard, pieces[0] if len(pieces) == 1 else SeqStmt(tuple(pieces))


def _monotone_in(cond: PrimExpr, var: Var) -> bool:
    """Whether bool ``cond`` holds on a range of ``var`` when it holds at both ends."""
    if not any(n is var for n in pre_order_nodes(cond)):
        return True
    if isinstance(cond, Binary) and cond.op == "and":
        return _monotone_in(cond.a, var) and _monotone_in(cond.b, var)
    if isinstance(cond, Binary) and cond.op in ("lt", "le", "gt", "ge"):
        return (dt.is_int(cond.a.dtype) and lane_stride(cond.a, var) is not None
                and lane_stride(cond.b, var) is not None)
    return False


def _flatten(stmt) -> list[BufferStore] | None:
    """The scalar stores of a body made of stores only, in order (a store computing local
    scalars first: one store whose value binds them, :func:`scalars_as_lets`); else None."""
    if isinstance(stmt, BufferStore):
        return [stmt] if not dt.is_vector(stmt.value.dtype) else None
    if isinstance(stmt, Allocate):
        store = scalars_as_lets(stmt)
        return None if store is None else [store]
    if isinstance(stmt, SeqStmt):
        out = []
        for child in stmt.seq:
            part = _flatten(child)
            if part is None:
                return None
            out.extend(part)
        return out
    return None


def scalars_as_lets(stmt: Allocate) -> BufferStore | None:
    """A statement computing local scalars before a store (what :mod:`.statement_scalars`
    makes: ``Allocate``s of ``local`` buffers around stores to them at constant indices, each
    element written once, then one store reading them) as that one store, its value binding
    each scalar by a ``Let`` (whose variable's dtype becomes a vector's with the lanes); else
    None.

    >>> from mlc.ir.buffer import decl_buffer
    >>> from mlc.ir.expr import call
    >>> X, Y = decl_buffer((4,), "float32", "X"), decl_buffer((4,), "float32", "Y")
    >>> t = decl_buffer((1,), "float32", "t", scope="local")
    >>> i = Var("i")
    >>> block = Allocate(t, seq(BufferStore(t, call("abs", X[i]), (const(0),)),
    ...                         BufferStore(Y, t[0] * t[0], (i,))))
    >>> scalars_as_lets(block).value
    T.let(t_0, T.abs(X[i]), t_0 * t_0)
    """
    local = set()
    while isinstance(stmt, Allocate):
        if stmt.buffer.scope != "local" or stmt.buffer.dtype not in _LET_DTYPES or len(stmt.buffer.shape) != 1:
            return None
        local.add(stmt.buffer)
        stmt = stmt.body
    stores = list(stmt.seq) if isinstance(stmt, SeqStmt) else [stmt]
    if not all(isinstance(st, BufferStore) for st in stores):
        return None
    *scalars, last = stores
    bound: dict[tuple, Var] = {}
    rewrite = _ScalarLoads(bound)
    lets = []
    for st in scalars:
        key = (st.buffer, st.indices[0].value if isinstance(st.indices[0], IntImm) else None)
        if st.buffer not in local or key[1] is None or key in bound:
            return None
        value = rewrite.visit(st.value)
        if rewrite.failed:
            return None
        bound[key] = Var(f"{st.buffer.name}_{key[1]}", st.buffer.dtype)
        lets.append((bound[key], value))
    if last.buffer in local:
        return None
    value = rewrite.visit(last.value)
    indices = tuple(rewrite.visit(i) for i in last.indices)
    if rewrite.failed:
        return None
    for var, v in reversed(lets):
        value = Let(var, v, value, value.dtype)
    return BufferStore(last.buffer, value, indices)


class _ScalarLoads(Mutator):
    """Loads of the local scalars bound so far replaced by their variables (``failed``: one
    read before it was written, or at an index not a constant)."""

    def __init__(self, bound: dict):
        self.bound, self.failed = bound, False
        self.local = set()

    def visit_BufferLoad(self, e: BufferLoad):
        if e.buffer.scope != "local":
            return self.generic_visit(e)
        index = e.indices[0]
        var = self.bound.get((e.buffer, index.value if isinstance(index, IntImm) else None))
        if var is None:
            self.failed = True
            return e
        return var


class _Dependence:
    """Whether an expression depends on the lane variable (memoised by node identity); a
    variable a ``Let`` binds to a value that does depends on it too."""

    def __init__(self, var: Var, math_calls: bool | Mapping[str, Collection[str]] = False,
                 vector_lets: bool = False):
        self.var, self.memo, self.math_calls, self.vector_lets = var, {}, math_calls, vector_lets
        self.lane_vars: set = set()

    def vector_call(self, e: Call) -> bool:
        """Whether math call ``e`` gets a vector form (see :func:`vectorize_loops`): the
        :data:`ELEMENTWISE_CALLS` and ``reinterpret`` wherever math calls have one."""
        if e.op == REINTERPRET:
            return self.vector_lets and e.dtype in _LET_DTYPES
        if e.op in ELEMENTWISE_CALLS and self.vector_lets:
            return dt.element(e.args[0].dtype) in ("float32", "float64")
        if self.math_calls is True:
            return e.dtype in ("float32", "float64")
        return bool(self.math_calls) and e.dtype in self.math_calls.get(e.op, ())

    def __call__(self, e: PrimExpr) -> bool:
        memo = self.memo
        hit = memo.get(id(e))
        if hit is not None:
            return hit
        # post order on an explicit stack (a Let chain is as long as the formula): a Let's
        # value first, then its variable is known to depend or not, then its body
        stack = [(e, 0)]
        while stack:
            n, stage = stack.pop()
            if id(n) in memo:
                continue
            if type(n) is Let:
                if stage == 0:
                    stack += ((n, 1), (n.value, 0))
                elif stage == 1:
                    if memo[id(n.value)]:
                        self.lane_vars.add(n.var)
                    stack += ((n, 2), (n.body, 0))
                else:
                    memo[id(n)] = memo[id(n.value)] or memo[id(n.body)]
                continue
            if type(n) is Var:
                memo[id(n)] = n is self.var or n in self.lane_vars
                continue
            kids = _operands(n)
            if kids is None:
                memo[id(n)] = any(m is self.var or (type(m) is Var and m in self.lane_vars)
                                  for m in pre_order_nodes(n))
            elif stage == 0 and kids:
                stack.append((n, 1))
                stack.extend((k, 0) for k in kids if id(k) not in memo)
            else:
                memo[id(n)] = any(memo[id(k)] for k in kids)
        return memo[id(e)]


def _operands(n: PrimExpr) -> tuple | None:
    """The operands of an expression node (None for a kind not listed here)."""
    cls = type(n)
    if cls is Binary:
        return n.a, n.b
    if cls in (IntImm, FloatImm):
        return ()
    if cls is Call:
        return n.args
    if cls is Select:
        return n.cond, n.true_value, n.false_value
    if cls is BufferLoad:
        return n.indices
    if cls is Cast:
        return (n.value,)
    if cls is Not:
        return (n.a,)
    return None


def _loads(e: PrimExpr) -> bool:
    return contains(e, BufferLoad)


def _supported(e: PrimExpr, depends: _Dependence) -> bool:
    """Whether the lane-dependent parts of stored value ``e`` have a vector form (every
    node checked on an explicit stack: the expression is as deep as the user wrote it)."""
    stack = [e]
    while stack:
        e = stack.pop()
        if not depends(e) or isinstance(e, Var):
            continue  # computed once, as a scalar, and broadcast; or the lane variable itself
        if isinstance(e, BufferLoad):
            if not (e.buffer.dtype in _MEMORY_DTYPES and len(e.indices) == 1):
                return False
        elif isinstance(e, Let):
            if not depends.vector_lets or e.var.dtype not in _LET_DTYPES:
                return False
            stack += (e.body, e.value)
        elif isinstance(e, Cast):
            # (float widened or narrowed, a signed int to float or to another width)
            if not (depends.vector_lets and e.dtype in _LET_DTYPES and e.value.dtype in _LET_DTYPES and e.dtype != "bool"
                    and e.value.dtype != "bool" and not (dt.is_float(e.value.dtype) and dt.is_int(e.dtype))):
                return False
            stack.append(e.value)
        elif isinstance(e, Not):
            stack.append(e.a)
        elif isinstance(e, Binary):
            operand = e.a.dtype
            if e.op in COMPARE_OPS:
                ok = operand in _MEMORY_DTYPES or (operand == "bool" and e.op in ("eq", "ne"))
            elif e.op in LOGIC_OPS:
                ok = operand == "bool"
            elif operand in ("float32", "float64"):
                ok = e.op in _FLOAT_OPS
            else:
                ok = operand in ("int32", "int64") and e.op in _INT_OPS and (
                    e.op not in ("shl", "shr") or depends.vector_lets)  # (shifts: where casts are)
            if not ok:
                return False
            stack += (e.b, e.a)
        elif isinstance(e, Select):
            # a vector select evaluates both sides; a scalar one may skip the load of the untaken side
            if not (e.dtype in _LET_DTYPES and not _loads(e.true_value) and not _loads(e.false_value)):
                return False
            stack += (e.false_value, e.true_value, e.cond)
        elif isinstance(e, Call) and depends.vector_call(e):
            stack.extend(reversed(e.args))
        else:
            return False
    return True


class _Lanes:
    """The vector form of the statements of one loop (lane-invariant values stay scalars)."""

    def __init__(self, s: For):
        self.var, self.min, self.lanes = s.loop_var, s.min, s.extent.value
        self.depends = _Dependence(self.var)
        self.renamed: dict[Var, Var] = {}  # a Let's variable -> that of its vector value

    def store(self, st: BufferStore) -> BufferStore:
        return BufferStore(st.buffer, self.broadcast(self.value(st.value)), (self.index(st.indices[0]),))

    def broadcast(self, e: PrimExpr) -> PrimExpr:
        return e if dt.is_vector(e.dtype) else Broadcast(e, self.lanes)

    def index(self, e: PrimExpr) -> PrimExpr:
        """A vector index: a Ramp when it moves by a constant per lane, else per-lane values."""
        stride = lane_stride(e, self.var)
        if stride is None:
            return self.broadcast(self.value(e))
        return Ramp(simplify_expr(substitute(e, {self.var: self.min})), stride, self.lanes)

    def value(self, e: PrimExpr) -> PrimExpr:
        """``e`` over the lanes: a vector when it depends on the lane variable, else ``e``."""
        if type(e) is Var and e in self.renamed:
            return self.renamed[e]
        if not self.depends(e):
            return e
        if e is self.var:
            return Ramp(self.min, 1, self.lanes)
        if isinstance(e, Let):  # (a chain of them, as long as the formula, on a loop)
            bindings = []
            while isinstance(e, Let):
                value = self.value(e.value)
                var = e.var
                if dt.is_vector(value.dtype):
                    var = self.renamed[e.var] = Var(e.var.name, value.dtype)
                bindings.append((var, value))
                e = e.body
            out = self.value(e)
            for var, value in reversed(bindings):
                out = Let(var, value, out, out.dtype)
            return out
        vector = dt.vector(dt.element(e.dtype), self.lanes)
        if isinstance(e, BufferLoad):
            return BufferLoad(e.buffer, tuple(self.index(i) for i in e.indices), vector)
        if isinstance(e, Binary):  # a chain of them (binary_chain: as deep as the user wrote it) on a loop
            chain = binary_chain(e, lambda node, side: self.depends(getattr(node, side)))
            out = below = None
            for node in reversed(chain):
                a = out if node.a is below else self.value(node.a)
                b = out if node.b is below else self.value(node.b)
                out, below = Binary(node.op, self.broadcast(a), self.broadcast(b),
                                    dt.vector(dt.element(node.dtype), self.lanes)), node
            return out
        if isinstance(e, Select):
            return Select(*(self.broadcast(self.value(x)) for x in (e.cond, e.true_value, e.false_value)), vector)
        if isinstance(e, Cast):  # (in gather indices)
            return Cast(vector, self.value(e.value))
        if isinstance(e, Not):
            return Not(self.value(e.a), vector)
        if isinstance(e, Call):
            return Call(e.op, tuple(self.broadcast(self.value(a)) for a in e.args), vector)
        raise TypeError(f"vectorize_loops: no vector form of {type(e).__name__}")
