"""Static memory planning: intermediate results share buffers by liveness.

Each ``call_tir`` (or ``call_dps_packed``) result that the graph does not return gets a *storage*:
a flat buffer of one dtype. Walking the bindings in order, a result takes a
free storage of its dtype (the smallest that fits, else the largest, which
grows), and a storage is freed after the last binding that reads its value.
A kernel never writes a storage it also reads, except an in-place kernel (:mod:`.inplace`)
whose output takes the memory of an argument nobody reads after it (attribute ``alias``). Returned values are left to
the caller (allocated per call); a ``view`` keeps the storage it views alive
as long as it is read. The plan is recorded as each binding's
``storage`` attribute and the graph's ``storages``. Three intermediates of a
chain share two storages:

>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> t = TensorType((4,), "float32")
>>> x, a, b, c, d = (Var(n, t) for n in "xabcd")
>>> chain = [Binding((a,), "call_tir", (x,)), Binding((b,), "call_tir", (a,)),
...          Binding((c,), "call_tir", (b,)), Binding((d,), "call_tir", (c,))]
>>> planned = plan_memory(Graph((x,), tuple(chain), (d,)))
>>> [b.attr("storage") for b in planned.bindings], len(planned.storages)
([(0,), (1,), (0,), (None,)], 2)
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.arith import Analyzer, free_vars
from ...ir.expr import convert
from ...ir.control import body_attrs, is_control
from ...ir.graph import Binding, Graph, Storage
from .inplace import ALIAS, carry_pairs, inplace_pairs, may_alias, writable_inputs
from .pointwise import pointwise_update

__all__ = ["plan_memory"]


def plan_memory(graph: Graph) -> Graph:
    """Assign storages to the results of ``call_tir`` bindings the graph does not return; an
    in-place kernel's output takes its argument's memory where that is legal (attribute
    ``alias``, :mod:`.inplace`). The inputs the graph writes (``graph.written``) are writable
    memory, as a loop's carries are: an in-place kernel may update such an input where nothing
    reads its old value after it."""
    return _plan(graph, frozenset(k for _, k in graph.written), graph.module)


def _plan_bodies(graph: Graph) -> Graph:
    """``graph`` with the graphs of its loops and branches planned (innermost first), each
    knowing which of its inputs it may write (:func:`~.inplace.writable_inputs`)."""
    if not any(is_control(b) for b in graph.bindings):
        return graph
    bindings = []
    for b in graph.bindings:
        if is_control(b):
            writable = writable_inputs(b)
            attrs = []
            for k, v in b.attrs:
                if k in body_attrs(b):
                    w = writable.get(k, frozenset())
                    v = tuple(_plan(g, w) for g in v) if isinstance(v, tuple) else _plan(v, w)
                attrs.append((k, v))
            b = Binding(b.outputs, b.op, b.args, tuple(attrs), b.loc)
        bindings.append(b)
    return graph.with_bindings(bindings)


def _plan(graph: Graph, writable_positions: frozenset, module=None) -> Graph:
    """``graph`` planned, the inputs at ``writable_positions`` its memory to write. With
    ``module``, a kernel of it that reads such an input element by element may write its
    output there, as an in-place kernel does (:func:`_pointwise_pairs`)."""
    graph = _plan_bodies(graph)
    returned = {id(a) for a in graph.outputs}
    root: dict[int, int] = {}     # a view's id -> the id of the value it views
    last_use: dict[int, int] = {}  # by root: a storage lives while any view of it is read
    for n, b in enumerate(graph.bindings):
        for a in b.args:
            last_use[root.get(id(a), id(a))] = n
        if b.op == "view":
            root[id(b.outputs[0])] = root.get(id(b.args[0]), id(b.args[0]))
    sizes: list[int] = []
    dtypes: list[str] = []
    free: list[int] = []
    holder: dict[int, int] = {}   # value id -> storage index
    carried = {id(v) for p, v in enumerate(graph.inputs) if p in writable_positions}  # and their aliases
    bindings = []
    for n, b in enumerate(graph.bindings):
        if b.op in ("call_tir", "call_dps_packed") or is_control(b):
            slots, alias = [], []
            pairs = dict(inplace_pairs(b) or carry_pairs(b) or _pointwise_pairs(b, module, carried, root))
            for o, v in enumerate(b.outputs):
                k = pairs.get(o)
                if k is not None and may_alias(b, n, k, root=lambda a: root.get(id(a), id(a)), last_use=last_use,
                                               writable=holder.keys() | carried,
                                               returned=returned):
                    key = root.get(id(b.args[k]), id(b.args[k]))
                    if key in holder and id(v) not in returned:  # the argument's storage, now the output's
                        holder[id(v)] = holder.pop(key)
                        slots.append(holder[id(v)])
                        alias.append(k)
                        continue
                    if key in carried:  # a loop's carry, written in its own buffer
                        carried.add(id(v))
                        slots.append(None)
                        alias.append(k)
                        continue
                alias.append(None)
                if id(v) in returned:
                    slots.append(None)
                    continue
                s = _take(free, sizes, dtypes, v.type.size, v.dtype)
                holder[id(v)] = s
                slots.append(s)
            for v in b.outputs:  # results nobody reads are free right away
                if id(v) in holder and id(v) not in last_use and id(v) not in returned:
                    free.append(holder.pop(id(v)))
            attrs = tuple(kv for kv in b.attrs if kv[0] not in ("storage", ALIAS)) + (("storage", tuple(slots)),)
            if any(k is not None for k in alias):
                attrs += ((ALIAS, tuple(alias)),)
            b = Binding(b.outputs, b.op, b.args, attrs, b.loc)
        for key in dict.fromkeys(root.get(id(a), id(a)) for a in b.args):  # (in the arguments' order, not the ids')
            if last_use.get(key) == n and key in holder:
                free.append(holder.pop(key))
        bindings.append(b)
    storages = tuple(Storage(s, d) for s, d in zip(sizes, dtypes))
    return graph.with_bindings(bindings, storages=storages)


def _pointwise_pairs(b: Binding, module, writable: set, root: dict) -> tuple[tuple[int, int], ...]:
    """(output, argument) pairs of call ``b`` whose kernel (in ``module``) reads the argument,
    which is ``writable`` memory, only at the indices of the output's element it writes
    (:func:`~.pointwise.pointwise_update`): that output may be written into the argument."""
    if module is None or b.op != "call_tir" or b.attr("func") not in module:
        return ()
    func = module[b.attr("func")]
    pairs = []
    for o in range(len(b.outputs)):
        for k, a in enumerate(b.args):
            if root.get(id(a), id(a)) in writable and pointwise_update(func, k, len(b.args) + o):
                pairs.append((o, k))
                break
    return tuple(pairs)


def _take(free: list[int], sizes: list, dtypes: list[str], size, dtype: str) -> int:
    """A free storage of ``dtype`` for ``size`` elements (grown if needed), else a new one.

    A size of a graph with dynamic axes may be symbolic (``x_dim0 * 16``): such a storage is
    taken only where it provably holds ``size`` for every value of the sizes, and not grown."""
    candidates = [k for k in free if dtypes[k] == dtype]
    if candidates and all(isinstance(sizes[k], int) for k in candidates) and isinstance(size, int):
        fitting = [k for k in candidates if sizes[k] >= size]
        k = min(fitting, key=sizes.__getitem__) if fitting else max(candidates, key=sizes.__getitem__)
        free.remove(k)
        sizes[k] = max(sizes[k], size)
        return k
    fitting = [k for k in candidates if _holds(sizes[k], size)]
    if fitting:
        k = fitting[0]
        free.remove(k)
        return k
    sizes.append(size)
    dtypes.append(dtype)
    return len(sizes) - 1


def _holds(have, need) -> bool:
    """Whether a storage of ``have`` elements holds ``need`` for every value of the symbolic
    sizes in them (each a size: 0 or more)."""
    if isinstance(have, int) and isinstance(need, int):
        return have >= need
    have, need = convert(have, dt.INDEX), convert(need, dt.INDEX)
    sizes = {v: (0, 2 ** 31 - 1) for v in free_vars(have) + free_vars(need)}
    return Analyzer(sizes).can_prove(have >= need)
