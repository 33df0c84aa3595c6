"""The one linear form of integer expressions, and exact-identity keys of expressions.

:class:`Linear` is ``sum(coef * atom) + const`` with integer coefficients: the
normal form every rewrite of :mod:`mlc.ir.arith` works on. Atoms are variables
or non-affine sub-expressions, keyed by :func:`expr_key` (free variables and
buffers by identity, everything else by structure).

>>> from mlc.ir.expr import Var
>>> i, j = Var("i"), Var("j")
>>> same_expr(i * 2 + 1, i * 2 + 1), same_expr(i, j)
(True, False)
>>> split_offset(i + 3)
(i, 3)
"""
from __future__ import annotations

import builtins
import dataclasses

from .. import dtype as dt
from ..buffer import Buffer
from ..expr import Binary, IntImm, Let, PrimExpr, Var, const, make_binary
from ..functor import node_fields, pre_order_nodes

__all__ = ["expr_key", "same_expr", "free_vars", "uses_any", "Linear", "split_offset"]


# ------------------------------------------------------------------ identity

#: id(node) -> (node, its key): the keys of the nodes keyed last. Rewrites key a sum's
#: atoms at every level of a nested expression; each node's key is then built once. The
#: entry holds its node, so the id is not reused while it is there (at most _KEPT entries).
_KEYS: dict[int, tuple] = {}
_KEPT = 1 << 15


def expr_key(e) -> tuple:
    """A hashable key equal for exactly-equal expressions (variables and buffers by identity).

    Unlike :func:`mlc.ir.structural.structural_equal`, free variables are not
    renamed: ``i + j`` and ``k + l`` have different keys.
    """
    if isinstance(e, Var):
        return ("var", id(e))
    if isinstance(e, IntImm):
        return ("int", e.value, e.dtype)
    if isinstance(e, Buffer):
        return ("buf", id(e))
    if isinstance(e, tuple):
        return ("tuple",) + tuple(expr_key(v) for v in e)
    if dataclasses.is_dataclass(e) and not isinstance(e, type):
        known = _KEYS.get(id(e))
        if known is not None and known[0] is e:
            return known[1]
        key = (type(e).__name__,) + tuple(expr_key(v) for _, v in node_fields(e))
        if len(_KEYS) >= _KEPT:
            _KEYS.clear()
        _KEYS[id(e)] = (e, key)
        return key
    return ("value", e)


def same_expr(a, b) -> bool:
    """True when ``a`` and ``b`` are the same expression over the same variables.

    Free variables and buffers compare by identity (``i`` and ``j`` differ even
    though one renames to the other); other nodes, tuples of them and plain
    values by structure. The same equality as comparing :func:`expr_key`\\ s,
    without building them.
    """
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if type(x) is not type(y) or isinstance(x, (Var, Buffer)):
            return False
        if dataclasses.is_dataclass(x):
            stack.extend(zip((v for _, v in node_fields(x)), (v for _, v in node_fields(y))))
        elif isinstance(x, tuple):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif x != y:
            return False
    return True


def free_vars(e) -> list[Var]:
    """The free variables of ``e`` in order of first appearance (each once): those a
    ``Let`` under ``e`` binds are not."""
    seen, out = set(), []
    nodes = list(pre_order_nodes(e))
    seen.update(id(node.var) for node in nodes if type(node) is Let)
    for node in nodes:
        if isinstance(node, Var) and id(node) not in seen:
            seen.add(id(node))
            out.append(node)
    return out


def uses_any(e, variables) -> bool:
    """True when ``e`` mentions any of ``variables`` (compared by identity)."""
    ids = {id(v) for v in variables}
    return builtins.any(id(v) in ids for v in free_vars(e))


# ------------------------------------------------------------- linear form

class Linear:
    """``sum(coef * atom) + const`` with integer coefficients; atoms keep first-seen order.

    ``terms`` maps :func:`expr_key` of each atom to ``[atom, coef]``; no
    coefficient is zero.
    """

    __slots__ = ("terms", "const", "dtype")

    def __init__(self, terms=None, const_: int = 0, dtype: str = dt.INDEX):
        self.terms: dict[tuple, list] = dict(terms or {})
        self.const = const_
        self.dtype = dtype

    @staticmethod
    def atom(e: PrimExpr) -> Linear:
        """``1 * e`` (a constant stays a constant)."""
        if isinstance(e, IntImm):
            return Linear(const_=e.value, dtype=e.dtype)
        return Linear({expr_key(e): [e, 1]}, 0, e.dtype)

    def copy(self) -> Linear:
        return Linear({k: [a, c] for k, (a, c) in self.terms.items()}, self.const, self.dtype)

    def add_term(self, atom: PrimExpr, coef: int) -> None:
        """In place: ``self += coef * atom``."""
        key = expr_key(atom)
        entry = self.terms.get(key)
        if entry is None:
            if coef:
                self.terms[key] = [atom, coef]
        else:
            entry[1] += coef
            if entry[1] == 0:
                del self.terms[key]

    def add(self, other: Linear, scale: int = 1) -> Linear:
        """``self + scale * other``, a new form."""
        out = self.copy()
        for key, (atom, coef) in other.terms.items():
            entry = out.terms.get(key)
            if entry is not None:
                entry[1] += coef * scale
                if entry[1] == 0:
                    del out.terms[key]
            elif coef * scale:
                out.terms[key] = [atom, coef * scale]
        out.const += other.const * scale
        return out

    def scale(self, factor: int) -> Linear:
        if factor == 0:
            return Linear(dtype=self.dtype)
        return Linear({k: [a, c * factor] for k, (a, c) in self.terms.items()}, self.const * factor,
                      self.dtype)

    def is_const(self) -> bool:
        return not self.terms

    def to_expr(self) -> PrimExpr:
        """The expression, terms by decreasing coefficient (stable), constant last:
        ``j_0 * 4 + j_1 - k + 3``; when every coefficient is negative, a positive
        constant leads: ``7 - j``."""
        dtype, out, constant = self.dtype, None, self.const
        for atom, coef in sorted(self.terms.values(), key=lambda t: -t[1]):
            term = atom if builtins.abs(coef) == 1 else make_binary("mul", atom, const(builtins.abs(coef), dtype))
            if out is None:
                if coef > 0:
                    out = term
                else:  # every coefficient is negative: lead with the constant
                    out = make_binary("sub", const(constant, dtype), term) if constant > 0 else \
                        Binary("sub", const(0, dtype), term, dtype)
                    constant = 0 if constant > 0 else constant
            else:
                out = make_binary("add" if coef > 0 else "sub", out, term)
        if out is None:
            return const(constant, dtype)
        if constant:
            out = make_binary("add" if constant > 0 else "sub", out, const(builtins.abs(constant), dtype))
        return out


# ------------------------------------------------------------------- offsets

def split_offset(e: PrimExpr) -> tuple[PrimExpr | None, int]:
    """``e`` as (base, constant offset): ``i + 2`` -> (i, 2), ``3`` -> (None, 3)."""
    if isinstance(e, IntImm):
        return None, e.value
    if isinstance(e, Binary) and e.op in ("add", "sub") and isinstance(e.b, IntImm):
        base, off = split_offset(e.a)
        delta = e.b.value if e.op == "add" else -e.b.value
        return (base, off + delta) if base is not None else (None, off + delta)
    return e, 0
