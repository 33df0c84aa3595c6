"""cse: the repeated subexpressions of a statement computed once, bound by a ``Let``.

Inlined stages repeat their producers' expressions in every use (a complex ``power`` is
``exp(b * log(a))`` with ``log(a)``'s float formula written out in each part), and the
renderers would write each copy out: LLVM folds them back at a price in build time, NVRTC
compiles them all. :func:`eliminate_common_subexpressions` binds each value that a stored
value or an ``if`` condition computes more than once to a variable
(:class:`~mlc.ir.expr.Let`), so that every backend renders it once.

What it binds and where:

* a non-trivial scalar expression (no variable, constant, vector or constant element of a
  local buffer) that occurs twice or more, compared structurally (``A[i] * 2`` twice is
  one value), counted where it is not already part of a bound value (of ``exp(x * y) + exp(x * y)`` only ``exp(x * y)`` is
  bound, not also ``x * y``);
* only where the statement evaluates it every time: an occurrence in a branch of a
  ``Select`` or in the right side of ``and``/``or`` counts only beside one evaluated
  every time (a load under a condition may be out of bounds where the condition fails);
  each branch is then a region of its own, whose repeats are bound at its top;
* not an index only (``i * 256 + j`` in two accesses): the renderers read an access by its
  index expression (a reduction update ``C[i] = C[i] + ...``, a vector access), and their
  compilers fold address arithmetic anyway;
* within one statement: an expression evaluates no store, so a load repeated in it reads
  one value; a statement calling external code (``T.call_extern``, which may write
  memory) and vector statements are left alone.

The Lets of a region come first, values before the values that use them::

    B[i] = T.exp(A[i] * 2) + T.exp(A[i] * 2) * A[i]
    # becomes
    B[i] = T.let(cse, A[i], T.let(cse_1, T.exp(cse * 2), cse_1 + cse_1 * cse))

>>> from mlc import te
>>> from mlc.passes.tir import lower
>>> A = te.placeholder((8,), "float32", "A")
>>> B = te.compute((8,), lambda i: te.exp(A[i] * 2) + te.exp(A[i] * 2) * A[i], "B")
>>> f = eliminate_common_subexpressions(lower(te.create_prim_func([A, B])))
>>> print(f.body.body.value)
T.let(cse, A[i], T.let(cse_1, T.exp(cse * T.float32(2)), cse_1 + cse_1 * cse))
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.buffer import Buffer
from ...ir.expr import Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, Let, PrimExpr, Ramp, Select, Var
from ...ir.extern import CallExtern
from ...ir.functor import Mutator, field_values, post_order_dag
from ...ir.tir import BufferStore, IfThenElse, PrimFunc

__all__ = ["eliminate_common_subexpressions", "cse_expr", "ValueNumbers", "children", "field_kinds", "trivial",
           "EXPR_FIELD", "TUPLE_FIELD"]

#: How many selects deep (conditions inside conditions) each branch is a region of its own.
MAX_DEPTH = 40

#: Never bound: a variable or constant is no cheaper to read from another variable.
_TRIVIAL = (Var, IntImm, FloatImm, Ramp, Broadcast)


def eliminate_common_subexpressions(func: PrimFunc) -> PrimFunc:
    """``func`` with the repeated subexpressions of each stored value and ``if`` condition
    bound to Lets (module docstring)."""
    body = _Statements().visit(func.body)
    return func if body is func.body else func.with_body(body)


def cse_expr(e: PrimExpr, names: list[int] | None = None) -> PrimExpr:
    """``e`` with its repeated subexpressions bound (module docstring); ``e`` itself where
    it repeats none, or where it calls external code or is a vector. ``names``: a one-item
    counter of the variables made so far (they are named ``cse``, ``cse_1``, ...)."""
    if dt.is_vector(e.dtype) or not isinstance(e, PrimExpr):
        return e
    numbers = ValueNumbers()
    numbers.key(e)
    if numbers.externs:
        return e
    return _Region(numbers, [0] if names is None else names).run(e, {})


def trivial(node: PrimExpr) -> bool:
    """A variable, a constant (a complex one too), a vector, or a constant element of a
    local buffer (a register: :mod:`.lower_complex` keeps its parts there): never bound."""
    cls = type(node)
    return (isinstance(node, _TRIVIAL) or dt.is_vector(node.dtype)
            or (cls is Call and all(isinstance(a, (IntImm, FloatImm)) for a in node.args))
            or (cls is BufferLoad and node.buffer.scope == "local" and all(type(x) is IntImm for x in node.indices)))


class _Statements(Mutator):
    """The statements whose expressions are bound: stores and ``if`` conditions."""

    def __init__(self):
        self.names = [0]

    def visit_BufferStore(self, node: BufferStore):
        if any(dt.is_vector(i.dtype) for i in node.indices):
            return node
        value = cse_expr(node.value, self.names)
        return node if value is node.value else BufferStore(node.buffer, value, node.indices)

    def visit_IfThenElse(self, node: IfThenElse):
        cond = cse_expr(node.condition, self.names)
        then_case = self.visit(node.then_case)
        else_case = None if node.else_case is None else self.visit(node.else_case)
        if cond is node.condition and then_case is node.then_case and else_case is node.else_case:
            return node
        return IfThenElse(cond, then_case, else_case)


# ------------------------------------------------------------------ structure

EXPR_FIELD, TUPLE_FIELD, _BUFFER_FIELD, _FLOAT_FIELD, _PLAIN_FIELD = range(5)


_KINDS: dict[type, tuple[int, ...]] = {}


def field_kinds(node) -> tuple[int, ...]:
    """What each field of ``node``'s class holds (the same for every node of a class)."""
    cls = type(node)
    kinds = _KINDS.get(cls)
    if kinds is None:
        out = []
        for v in field_values(node):
            out.append(EXPR_FIELD if isinstance(v, PrimExpr) else
                       TUPLE_FIELD if isinstance(v, tuple) else
                       _BUFFER_FIELD if isinstance(v, Buffer) else
                       _FLOAT_FIELD if isinstance(v, float) else _PLAIN_FIELD)
        kinds = _KINDS[cls] = tuple(out)
    return kinds



def children(node) -> list[tuple[PrimExpr, bool]]:
    """The expressions under ``node``, each with whether ``node`` evaluates it only
    sometimes (a Select's branches, the right side of ``and``/``or``)."""
    cls = type(node)
    if cls is Let or cls in (Var, IntImm, FloatImm):
        return []  # (a Let is closed: left as it is)
    if cls is Select:
        return [(node.cond, False), (node.true_value, True), (node.false_value, True)]
    if cls is Binary:
        return [(node.a, False), (node.b, node.op in ("and", "or"))]
    if cls is BufferLoad:
        return [(x, False) for x in node.indices]
    if cls is Cast or cls is Broadcast:
        return [(node.value, False)]
    out = []
    for kind, v in zip(field_kinds(node), field_values(node)):
        if kind == EXPR_FIELD:
            out.append((v, False))
        elif kind == TUPLE_FIELD:
            out.extend((x, False) for x in v if isinstance(x, PrimExpr))
    return out


class ValueNumbers:
    """Numbers expressions by value: structurally equal ones (the same operations on the
    same variables, buffers and constants; ``-0.0`` is not ``0.0``) get one number, and a
    child's number is smaller than its parent's. Incremental: numbering a tree numbers its
    nodes once, and nodes numbered before are not walked again (they are kept alive, so
    their ids stay theirs). ``externs``: how many calls of external code were numbered.

    >>> from mlc.ir.expr import Var
    >>> x = Var("x", "float32")
    >>> n = ValueNumbers()
    >>> n.key(x * 2 + 1) == n.key(x * 2 + 1), n.key(x * 2) == n.key(x * 3)
    (True, False)
    """

    def __init__(self):
        self._interned: dict[tuple, int] = {}
        self._keys: dict[int, tuple[int, PrimExpr]] = {}
        #: id of each node numbered -> (its number, the node): a caller that numbered a
        #: root reads the numbers of the nodes under it here without a call
        self.numbered = self._keys
        self.externs = 0

    def key(self, root: PrimExpr) -> int:
        keys = self._keys
        got = keys.get(id(root))
        if got is not None:
            return got[0]
        # (the nodes numbered before are not entered; the last operand first, as numbered always)
        for node in post_order_dag((root,), lambda n: [c for c, _ in reversed(children(n)) if id(c) not in keys]):
            keys[id(node)] = (self._intern(node), node)
        return keys[id(root)][0]

    def _intern(self, node) -> int:
        cls, keys = type(node), self._keys
        if cls is CallExtern:
            self.externs += 1
        if cls is Var or cls is Let:
            sig = (cls, id(node))
        elif cls is Binary:  # (the tuple of the loop below, built directly: the commonest node)
            sig = (cls, node.op, keys[id(node.a)][0], keys[id(node.b)][0], node.dtype)
        else:
            parts = [cls]
            for kind, v in zip(field_kinds(node), field_values(node)):
                if kind == EXPR_FIELD:
                    parts.append(keys[id(v)][0])
                elif kind == TUPLE_FIELD:
                    parts.append(tuple(keys[id(x)][0] if isinstance(x, PrimExpr) else x for x in v))
                elif kind == _BUFFER_FIELD:
                    parts.append(id(v))
                elif kind == _FLOAT_FIELD:
                    parts.append(v.hex())  # -0.0 is not 0.0; every NaN its bits
                else:
                    parts.append(v)
            sig = tuple(parts)
        key = self._interned.get(sig)
        if key is None:
            key = self._interned[sig] = len(self._interned)
        return key


class _Region:
    """Binds the repeats of one region (an expression and what it always evaluates); each
    conditional part is then a region of its own."""

    def __init__(self, numbers: ValueNumbers, names: list[int]):
        self.key, self.names = numbers.key, names

    def run(self, root: PrimExpr, env: dict[int, Var], depth: int = 0) -> PrimExpr:
        """``root`` with the values of ``env`` (key -> variable) read from their variables
        and its own repeats bound at its top; ``depth``: how many conditions it is under
        (past :data:`MAX_DEPTH`, nothing more is bound: a chain of selects as deep as the
        user wrote it is no deeper to Python)."""
        if depth > MAX_DEPTH:
            return self.rebuild(root, env, depth=depth)
        counts: dict[int, int] = {}
        first: dict[int, PrimExpr] = {}
        valued: set[int] = set()
        branches: list[PrimExpr] = []
        self._count(root, env, counts, first, valued, branches)
        for b, in_index in branches:
            self._count(b, env, counts, first, valued, None, in_index)
        bound = sorted(k for k, n in counts.items() if n > 1 and k in valued and not trivial(first[k]))
        if not bound and not branches:  # (nothing to bind, no region under it)
            return root if not env else self.rebuild(root, env, depth=depth)
        env = dict(env)
        lets = []
        for k in bound:
            node = first[k]
            value = self.rebuild(node, env, depth, inner=True)
            var = Var("cse" if self.names[0] == 0 else f"cse_{self.names[0]}", node.dtype)
            self.names[0] += 1
            env[k] = var
            lets.append((var, value))
        body = self.rebuild(root, env, depth)
        for var, value in reversed(lets):
            body = Let(var, value, body, body.dtype)
        return body

    def _count(self, root, env, counts, first, valued, branches, in_index: bool = False) -> None:
        """Count each value's occurrences under ``root``, entering each value once (the
        first time): those inside a repeated value count once; ``valued`` gets the values
        that occur outside an index (an address is left to the renderer, which reads
        accesses by their index expressions, and to its compiler). With ``branches`` (a
        list), the region's own part: its conditional parts go to ``branches``; else
        everything under ``root``, counting only the values the region's own part has."""
        always = branches is not None
        seen: set[int] = set()
        stack = [(root, in_index)]
        while stack:
            node, in_index = stack.pop()
            k = self.key(node)
            if k in env:
                continue
            if not in_index:
                valued.add(k)
            if always:
                counts[k] = counts.get(k, 0) + 1
                if counts[k] > 1:
                    continue
                first[k] = node
            elif k in first:
                counts[k] += 1
                continue
            elif k in seen:
                continue
            else:
                seen.add(k)
            index = in_index or type(node) is BufferLoad
            for child, conditional in children(node):
                if conditional and always:
                    branches.append((child, index))
                else:
                    stack.append((child, index))

    def rebuild(self, root: PrimExpr, env: dict[int, Var], depth: int, inner: bool = False) -> PrimExpr:
        """``root`` with the values of ``env`` replaced by their variables (not ``root``
        itself when ``inner``), its conditional parts regions of their own (past
        :data:`MAX_DEPTH`: parts like the others)."""
        flat = depth > MAX_DEPTH
        done: dict[int, PrimExpr] = {}

        def bound(node) -> Var | None:  # the variable ``node``'s value is read from, if any
            return None if inner and node is root else env.get(self.key(node))

        def entered(node) -> list:  # (a bound value is a leaf; the last operand first, as always)
            if bound(node) is not None:
                return []
            return [c for c, conditional in reversed(children(node)) if flat or not conditional]

        for node in post_order_dag((root,), entered):
            var = bound(node)
            done[id(node)] = var if var is not None else self._rebuilt(node, children(node), done, env,
                                                                         None if flat else depth + 1)
        return done[id(root)]

    def _rebuilt(self, node, kids, done, env, depth: int | None) -> PrimExpr:
        """``node`` of its rebuilt ``kids`` (``done``); each conditional kid a region at
        ``depth`` (None: rebuilt in ``done`` too)."""
        if not kids:
            return node
        new = {id(c): (self.run(c, env, depth) if conditional and depth is not None else done[id(c)])
               for c, conditional in kids}
        if all(new[id(c)] is c for c, _ in kids):
            return node
        values = []
        for kind, v in zip(field_kinds(node), field_values(node)):
            if kind == EXPR_FIELD:
                values.append(new[id(v)])
            elif kind == TUPLE_FIELD:
                values.append(tuple(new[id(x)] if isinstance(x, PrimExpr) else x for x in v))
            else:
                values.append(v)
        return type(node)(*values)
