"""What the rewritten source of a jitted function calls (:mod:`.autograph`): control flow that
runs as Python on Python values and becomes graph loops and conditionals on traced ones.

Each statement helper takes the statement's blocks as functions of the variables they assign
and those variables' values before it (``UNDEFINED`` where unbound), and returns their values
after it:

>>> values(lambda: 1, lambda: undefined_name)  # doctest: +ELLIPSIS
(1, <undefined>)
>>> if_stmt(True, lambda a: (a + 1,), lambda a: (a - 1,), (1,), ("a",), 3)
(2,)
"""
from __future__ import annotations

import builtins
import dis
import functools
import types
from importlib import import_module

import numpy as np

from ..errors import DTypeError, ShapeError, TraceError
from . import control_flow
from .source import describe_location, user_location
from .autograph_analysis import effect_free_function
from .autograph_scalars import builtin_scalar, scalar_call
from .trace import RAISES, TraceContext, current_trace
from .tracer import Tracer
from .state import View
from .aliases import alias, as_flag, identities, owners, refuse_split_views, tied, untraceable, views_of
from .loop_rebinds import Plan, Rebound

__all__ = ["UNDEFINED", "call", "array_stmt", "values", "if_stmt", "while_stmt", "for_range", "for_iter", "python_test", "if_exp",
           "and_", "or_", "not_", "builtin_max", "builtin_min", "builtin_scalar", "scalar_call", "raise_if", "assert_", "bound_or", "index_trick", "helper_stmt", "UNROLL",
           "UNROLL_NEST", "UNROLL_IN_LOOP", "nest_copies"]

#: A loop over a static ``range`` of at most this many iterations runs as Python (its body
#: traced once per iteration): for a few iterations, straight-line code is as fast.
UNROLL = 8

#: The most copies of a loop body that Python loops nested in one another may trace: a loop
#: in a nest runs as Python only while its trip count times those of the loops around it that
#: run as Python, and times those of the loops inside it whose trip counts are known before it
#: runs (:func:`nest_copies`), stays within this; past it the loop is compiled, its body
#: traced once. Each copy of a body is code of its own (its kernels hold the copy's indices
#: as constants), so compile time grows with the copies: a nest of eight loops of two to six
#: trips would otherwise trace its body thousands of times, or (counting only the loops
#: around) copy a compiled nest sixteen times, each copy compiled. A 4 x 4 nest (a stencil's
#: offsets) still unrolls; a body that needs its indices as Python ints (a slice's bounds)
#: unrolls whatever the nest.
UNROLL_NEST = 16

#: The same limit inside the body of a compiled loop, for every loop there (one on its own
#: too): the copies are code of their own in a body that already runs as a loop, and a nest
#: that stays loops can become one kernel (:mod:`mlc.passes.graph.element_loops`).
UNROLL_IN_LOOP = 4

#: How many compiled loops' bodies are being traced around the statement being traced.
_in_loop = [0]

#: The product of the trip counts of the loops around the statement being traced that run as
#: Python (each of their iterations traces the statement again); 1 outside any.
_copies = [1]


class _Undefined:
    """The value of a variable not bound (yet) where a statement starts; using it is an error
    that says so (``why``: which variable, and which statement left it unbound)."""

    __slots__ = ("why",)

    def __init__(self, why: str = ""):
        self.why = why

    def __repr__(self) -> str:
        return "<undefined>"

    def _refuse(self, *args, **kwargs):
        raise TraceError((self.why or "a variable is used that is assigned in only one branch of an `if` "
                          "on a traced value, or only inside a loop compiled as a graph loop; give it a "
                          "value before the `if` or the loop") + describe_location(user_location()))

    def __getattr__(self, name: str):
        if name.startswith("__"):  # protocols (copy, inspect) ask for them: plainly absent
            raise AttributeError(name)
        self._refuse()

    __bool__ = __call__ = __getitem__ = __iter__ = __len__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _refuse
    __rtruediv__ = __neg__ = __matmul__ = __rmatmul__ = __array__ = __pow__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = _refuse


UNDEFINED = _Undefined()


def _unbound(value) -> bool:
    return isinstance(value, _Undefined)


def values(*thunks) -> tuple:
    """Each thunk's value, UNDEFINED where the name it reads is unbound."""
    out = []
    for thunk in thunks:
        try:
            out.append(thunk())
        except NameError:
            out.append(UNDEFINED)
    return tuple(out)


def _traced(value) -> bool:
    return isinstance(value, Tracer)


def _array_like(value) -> bool:
    return isinstance(value, (Tracer, np.ndarray, np.generic, bool, int, float, complex))


def _where(lineno: int) -> str:
    loc = user_location()
    return describe_location(loc) if loc is not None else f" (line {lineno})"


# ------------------------------------------------------------------------------- if


def if_stmt(test, true_fn, false_fn, vals: tuple, names: tuple, lineno: int, unread: tuple = ()) -> tuple:
    """``if test: <true_fn> else: <false_fn>``: Python's ``if`` on a Python value; on a traced
    one, a conditional of the graph whose results are the variables both branches leave
    arrays (a variable either branch leaves unbound is unbound after it). The branches get
    the traced variables as operands: an array a branch writes in place (``x[0] = v``) is the
    branch's own version, and the array written after the conditional.

    ``unread``: the variables nothing reads after the statement (:mod:`.autograph`'s line
    table). One of them unbound before it is the branches' own (a view each binds, of another
    shape in each: ``v = a[1:3]`` in one, ``v = a[:0]`` in the other): no result, unbound
    after it; what a branch writes through it reaches its array as any write through a view
    the branch takes does (:func:`_written_through_views`). One bound before it stays a
    result where the branches leave it of one shape and dtype (:func:`_one_type`); where they
    do not (a branch rebinds it to a view of another shape), it is the branches' own too, and
    what a branch wrote through the array it named before (``a = a[:2]; a += 1`` writes the
    caller's ``a``) is written as any write into an array from before the ``if``.
    A branch whose trace fails as NumPy's run of it would (a cast ``same_kind`` refuses,
    shapes that do not broadcast) is a check instead: the function raises that error when it
    runs and the condition takes the branch (:func:`_one_branch_traced`)."""
    if not _traced(test):
        return tuple((true_fn if test else false_fn)(*vals))
    traced = [k for k, v in enumerate(vals) if _traced(v)]
    probes, refused = _probes((false_fn, true_fn), vals, traced, names)
    if refused:
        return _one_branch_traced(test, (false_fn, true_fn), refused, vals, lineno)
    pred = control_flow._truth(test, f"the condition of the `if` at line {lineno}")
    reached = _written_through_views(probes, vals)
    if reached:  # operands too, so that the conditional returns what the branches wrote into them
        n = len(vals)
        vals, names = vals + reached, names + tuple(f"an array written at line {lineno}" for _ in reached)
        true_fn, false_fn = _passing_on(true_fn, n), _passing_on(false_fn, n)
        traced = [k for k, v in enumerate(vals) if _traced(v)]
        probes = [_probe(fn, vals, traced, names) for fn in (false_fn, true_fn)]
        return _if_result(pred, true_fn, false_fn, vals, names, traced, probes, lineno, unread)[:n]
    return _if_result(pred, true_fn, false_fn, vals, names, traced, probes, lineno, unread)


#: The errors of a branch's trace that NumPy raises too when it runs that branch: a program
#: whose condition never takes the branch runs in NumPy, so the branch becomes a check.
_RUN_TIME_ERRORS = (DTypeError, ShapeError)


def _probes(fns, vals, traced, names) -> tuple[list, dict]:
    """(each branch probed, or None where its trace raised one of _RUN_TIME_ERRORS; branch
    number -> that error)."""
    probes, refused = [], {}
    for n, fn in enumerate(fns):
        try:
            probes.append(_probe(fn, vals, traced, names))
        except _RUN_TIME_ERRORS as err:
            probes.append(None)
            refused[n] = err
    return probes, refused


def _one_branch_traced(test, fns, refused: dict, vals, lineno: int) -> tuple:
    """The ``if`` on the traced ``test`` whose branch ``fns[n]`` for each ``n`` in ``refused``
    fails to trace with that error: the error is raised when the compiled function runs and the
    condition takes that branch (``n`` 1: true, 0: false; :func:`raise_if`); the other branch
    runs as the statement. Both failing: the true branch's error, now."""
    if len(refused) == 2:
        raise refused[1]
    (n, err), = refused.items()
    taken = test if n == 1 else np.logical_not(test)
    raise_if(taken, lambda: err, lineno)
    return tuple(fns[1 - n](*vals))


def _written_through_views(probes, vals) -> tuple:
    """The arrays from before an ``if`` that a branch writes through a view it takes of them,
    without naming them as a variable the branch assigns (``v = a[1:]; v += 1``,
    ``a[::2].fill(0)``, ``np.add(x, 1, out=a[1:3])``), each once."""
    given = {id(v) for v in vals}
    out: dict[int, Tracer] = {}
    for p in probes:
        for outer in p.captured_writes:
            if id(outer) not in given:
                out.setdefault(id(outer), outer)
    return tuple(out.values())


def _passing_on(fn, n: int, indexed: bool = False):
    """The branch (or loop body, after its index where ``indexed``) ``fn`` of ``n`` variables,
    given more (arrays it reaches without naming them: :func:`_written_through_views`), which
    it returns as they are left."""
    if indexed:
        return lambda i, *given: tuple(fn(i, *given[:n])) + tuple(given[n:])
    return lambda *given: tuple(fn(*given[:n])) + tuple(given[n:])


def _if_result(pred, true_fn, false_fn, vals, names, traced, probes, lineno, unread=()) -> tuple:
    """The variables after an ``if`` on the traced ``pred`` (:func:`if_stmt`), its branches probed."""
    graph, result = [], list(vals)
    for k, name in enumerate(names):
        outs = [p[k] for p in probes]
        if name in unread and (_unbound(vals[k]) or not _one_type(outs)):
            # the branches' own: no result (what they wrote through it is written: _branch_results)
            result[k] = _Undefined(f"variable {name!r} is assigned inside the `if` at line {lineno}, whose "
                                   "condition is traced, and read nowhere after it")
        elif any(_unbound(o) for o in outs):
            result[k] = _Undefined(
                f"variable {name!r} is assigned in only one branch of the `if` at line {lineno}, whose "
                f"condition is traced (both branches are compiled); give it a value before the `if`")
        elif all(_array_like(o) for o in outs):
            if not any(_traced(o) for o in outs) and all(_same(o, outs[0]) for o in outs):
                result[k] = outs[0]  # the same Python value either way
            else:
                graph.append(k)
        elif all(o is outs[0] for o in outs):
            result[k] = outs[0]
        else:
            raise TraceError(f"variable {name!r} is {_kind(outs[1])} after one branch of the `if` at "
                             f"line {lineno} and {_kind(outs[0])} after the other; on a traced "
                             "condition both branches must leave it an array of one shape and dtype"
                             + _where(lineno))
    if graph or any(_wrote(p.inputs[k]) for p in probes for k in traced):  # (results, or writes only)
        _branch_results(pred, true_fn, false_fn, vals, names, traced, graph, probes, result, lineno)
    return tuple(result)


def _branch_results(pred, true_fn, false_fn, vals, names, traced, graph, probes, result, lineno):
    """Record the conditional of an ``if`` on a traced ``pred`` and set ``result`` (the
    variables after it) for the positions ``graph``. A variable both branches leave naming its
    array (written in place or not) is that array, given its new value; an array a branch
    writes is given its new value where that branch ran (a result of the conditional), whatever
    names it after; a variable that names an array from before the ``if`` (its own, another
    variable's, a view of one) on some paths only is an Alias of those arrays, their flags
    results of the conditional too (:mod:`.aliases`)."""
    firsts = {}
    for k in traced:
        firsts.setdefault(id(vals[k]), k)
    groups = sorted(set(firsts.values()))
    kept = [k for k in graph if all(p[k] is p.inputs[k] for p in probes)]
    written = [j for j in groups if j not in kept and any(_wrote(p.inputs[j]) for p in probes)]
    keys: dict[int, list] = {}  # variable -> [(array, path)] it may name
    for k in graph:
        if k in kept:
            continue
        for p in probes:
            for x, path in p.named[k]:
                if not any(x is y and path == q for y, q in keys.setdefault(k, [])):
                    keys[k].append((x, path))
    flags = [(k, x, path) for k, pairs in keys.items() for x, path in pairs]

    def picker(fn):
        def branch(*operands):
            given = _one_per_array(vals, traced, _merge(vals, traced, operands))
            out = fn(*given)
            owned = owners([given[k] for k in traced], [vals[firsts[id(vals[k])]] for k in traced])
            ctx = current_trace()
            extra = [Tracer(ctx, given[j]._atom) for j in written]
            for k, x, path in flags:
                found = [f for y, q, f in identities(out[k], owned) if y is x and q == path]
                extra.append(as_flag(found[0] if found and found[0] is not None else False, ctx)
                             if not found or found[0] is not None else _unfollowed(names[k], lineno))
            return tuple(out[k] for k in graph) + tuple(extra)
        return branch

    operands = [vals[k] for k in traced]
    chosen = control_flow.cond(pred, picker(true_fn), picker(false_fn), *operands)
    n = len(graph)
    got = {(k, id(x), path): f for (k, x, path), f in zip(flags, chosen[n + len(written):])}
    for k, v in zip(graph, chosen[:n]):  # (the aliases first: they see the writes below as changes)
        if k in kept:
            continue
        if k in keys:
            why = (f"variable {names[k]!r} names, after the `if` at line {lineno}, an array that only the run "
                   f"decides, which the trace cannot follow; copy it ({names[k]} = {names[k]}.copy())"
                   + _where(lineno))
            choices = [c for x, path in keys[k] for c in views_of(x, path, got[(k, id(x), path)])]
            result[k] = alias(_like(v, vals[k]), choices, why)
        else:
            result[k] = _like(v, vals[k])
    for k in graph:
        if k not in kept and any(k in p.tied for p in probes) and _traced(result[k]):
            result[k] = untraceable(result[k] if result[k] is not vals[k] else result[k].fresh(), (
                f"variable {names[k]!r} names, after the `if` at line {lineno}, an array a branch made that "
                "another variable names too (one a view of the other), which the conditional returns apart; "
                f"a write into it would not be seen through the other: copy it there ({names[k]} = "
                f"....copy())" + _where(lineno)))
    for j, v in zip(written, chosen[n:n + len(written)]):
        _written(vals[j], v)
    for k, v in zip(graph, chosen[:n]):
        if k in kept:
            result[k] = _written(vals[k], v)


def _one_type(outs) -> bool:
    """Whether the values ``outs`` the branches leave in a variable may be one result of a
    conditional as far as their shapes and dtypes go: arrays (or numbers) of one shape
    whose dtypes agree but for weak ones (Python numbers, which take the others' dtype)."""
    if not all(_array_like(o) for o in outs) or len({np.shape(o) for o in outs}) > 1:
        return False
    strong = {str(o.dtype) for o in outs if isinstance(o, (Tracer, np.ndarray, np.generic))
              and not getattr(o, "weak", False)}
    return len(strong) <= 1


def _wrote(given) -> bool:
    """Whether a branch wrote into ``given`` (one of its operands) in place."""
    ref = given._ref if _traced(given) else None
    return isinstance(ref, View) and ref.box.input is not None and ref.box.atom is not ref.box.input


def _unfollowed(name, lineno):
    raise TraceError(f"variable {name!r} names, after the `if` at line {lineno}, an array that only the run "
                     "decides, and the trace cannot follow which; copy it (x = x.copy()) before the `if`"
                     + _where(lineno))


def _one_per_array(vals, traced, given) -> tuple:
    """A branch's variables ``given`` with one Tracer per array: variables naming one array
    before the ``if`` (``c = a``) name one Tracer in it, and the branch reads that array under
    a name it does not assign through it too (:meth:`TraceContext.capture`), so a write in
    place through one name is seen through the others, as in NumPy (a branch runs once: the
    Tracer stands for that array until the branch ends, whatever names it rebinds)."""
    given = list(given)
    first: dict[int, int] = {}
    for k in traced:
        j = first.setdefault(id(vals[k]), k)
        given[k] = given[j]
    current_trace().stand_ins = {id(vals[k]): (vals[k], given[k]) for k in traced}
    return tuple(given)


class _Probe(tuple):
    """A branch's results, with the values it was given (``inputs``) and, per result, the arrays
    from before the ``if`` it may name (``named``: ``(array, path)`` pairs, :mod:`.aliases`)."""
    inputs: tuple
    named: list
    tied: set
    captured_writes: list  # arrays from around the ``if`` the branch wrote through a view of them


def _probe(fn, vals, traced, names=()) -> _Probe:
    """``fn(*vals)`` traced on its own, the traced variables given as stand-ins (the ops it
    records are dropped): what it returns."""
    with TraceContext("probe", capture=True) as ctx:
        stand_ins = [ctx.new_input(vals[k]._atom.type, f"probe{k}", weak=vals[k].weak) for k in traced]
        given = _one_per_array(vals, traced, _merge(vals, traced, stand_ins))
        out = _Probe(fn(*given))
        owned = owners([given[k] for k in traced], [vals[k] for k in traced])
        out.named = [[(x, path) for x, path, _ in identities(o, owned)] for o in out]
        out.tied = tied(out, owned, range(len(out)))
        out.captured_writes = ctx.written_captures()
        written = [(names[k], vals[k]) for k in traced if _wrote(given[k])]
        if written:
            refuse_split_views(written, [(names[k], vals[k]) for k in traced]
                               + [("an array it reads", outer) for outer, _ in ctx.captured], "`if`")
    out.inputs = given
    return out


def _like(value, before):
    """``value`` (a result of a compiled ``if`` or loop) a NumPy scalar or an array as the
    variable's value ``before`` it was."""
    if _traced(value):
        value.array0d = _traced(before) and before.array0d
    return value


def _written(original, new):
    """``original`` (a traced array the statement wrote in place) given the value ``new``
    the statement left in it, as NumPy's in-place write would: the same array object, so that
    a view of it, or the caller's array it stands for, sees the write."""
    if not _traced(original) or original._atom is new._atom:
        return new
    ctx = current_trace()
    if original._ctx is not ctx and ctx is not None:
        # an array of the code around (an `if` in a loop's body writing one through a view): the
        # write goes to this trace's stand-in for it, which that code then carries
        # (:func:`_carrying_reached`, :func:`_written_through_views`)
        ctx.capture(original)[...] = new
        return original
    original[...] = new
    return original


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(np.array_equal(a, b))
    except Exception:  # noqa: BLE001 - values NumPy cannot compare are not the same
        return False


def _kind(value) -> str:
    if _traced(value):
        return f"a traced {value.dtype}{list(value.shape)} array"
    return f"a {type(value).__name__}"


def if_exp(test, body, orelse, lineno: int):
    """``body() if test else orelse()``; on a traced test, a conditional of the graph."""
    if not _traced(test):
        return body() if test else orelse()
    return control_flow.cond(control_flow._truth(test, f"the condition at line {lineno}"), body, orelse)


# ---------------------------------------------------------------------------- loops


def _carries(vals: tuple, maybe: int = 0) -> list[int]:
    """The positions of the variables a graph loop carries: those bound to arrays (or
    numbers) when it starts. An unbound one is the body's own temporary. The last ``maybe``
    are passed to a function the body calls as a statement (``update(p, b)``, which may write
    into ``p``): carried when they are traced arrays."""
    first = len(vals) - maybe
    return [k for k, v in enumerate(vals) if not _unbound(v) and _array_like(v) and (k < first or _traced(v))]


def _refuse_python_state(vals: tuple, names: tuple, positions: list[int], lineno: int, what: str) -> None:
    """TraceError when the loop assigns into a Python container (``d[k] = v``, ``lst[i] = v``):
    a compiled loop would run that once."""
    for k, v in enumerate(vals):
        if k not in positions and isinstance(v, (list, dict, set, bytearray)):
            raise TraceError(f"the {what} at line {lineno} writes into {names[k]!r}, a Python "
                             f"{type(v).__name__}, which a compiled loop would change once; use arrays "
                             "(or a loop over a static range of Python values)" + _where(lineno))


class _Share(Exception):
    """Trace the loop's body again, its carried variables ``positions`` shared (:func:`_aliased`)."""

    def __init__(self, positions: frozenset):
        super().__init__()
        self.positions = positions


def _aliased(vals: tuple, positions: list[int], given: tuple, share: frozenset) -> tuple:
    """``given`` (a loop body's variables) with the arrays the loop carries under two names
    named by one Tracer: a carried variable ``k`` in ``share`` whose array another carried
    variable also names before the loop (``c = b``, both assigned in the body) is the same
    Tracer in the body, and the body's reads of that array under a name it does not assign
    (a captured outer value) read the carried Tracer (:meth:`TraceContext.capture`), so a
    write in place through one name is seen through the other, as in NumPy. The other
    carried arrays are watched: :func:`_check_aliased` finds those the body reads under
    another name and writes in place, for a second trace that shares them."""
    given = list(given)
    first: dict[int, int] = {}
    for k in positions:
        if _traced(vals[k]):
            j = first.setdefault(id(vals[k]), k)
            if j != k and j in share:
                given[k] = given[j]
    ctx = current_trace()
    ctx.stand_ins = {id(vals[k]): (vals[k], given[k] if k in share else None)
                     for k in positions if _traced(vals[k]) and first[id(vals[k])] == k}
    ctx.stood_in = set()
    return tuple(given)


def _check_aliased(vals, positions, given, new, before, share, names, lineno, what):
    """After a loop body's trace (:func:`_aliased`): :class:`_Share` when a carried array it
    reads or carries under a second name was written in place and is not shared yet;
    TraceError when a shared one is not the same array after the body (a name rebound: which
    array the other name holds would differ between iterations)."""
    ctx = current_trace()
    groups: dict[int, list[int]] = {}
    for k in positions:
        if _traced(vals[k]):
            groups.setdefault(id(vals[k]), []).append(k)
    need = set()
    for key, ks in groups.items():
        if len(ks) < 2 and key not in ctx.stood_in:
            continue
        if any(given[k]._atom is not before.get(k, given[k]._atom) for k in ks) or ks[0] in share:
            need.add(ks[0])
    if need - share:
        raise _Share(frozenset(need | share))
    for k in share:
        ks = groups.get(id(vals[k]), [k])
        if any(new[j] is not given[j] for j in ks):
            raise TraceError(f"the {what} at line {lineno} writes in place into an array it names by two "
                             f"variables ({', '.join(repr(names[j]) for j in ks)} or a variable it only reads) "
                             f"and rebinds {names[k]!r}, which a compiled loop cannot carry; copy the array "
                             f"({names[k]} = {names[k]}.copy()) before the loop" + _where(lineno))


def _merge(vals: tuple, positions: list[int], carried) -> tuple:
    """``vals`` with the values at ``positions`` replaced by ``carried`` (a branch's or a loop
    body's stand-ins), each a NumPy scalar or an array as the value it stands in for is."""
    out = list(vals)
    for k, v in zip(positions, carried):
        if _traced(v) and _traced(vals[k]):
            v.array0d = vals[k].array0d
        out[k] = v
    return tuple(out)


def _check_kept(names, vals, positions, new, lineno, what):
    for k, (old, now) in enumerate(zip(vals, new)):
        if k not in positions and now is not old and not _unbound(old) and not _same(now, old):
            raise TraceError(f"the {what} at line {lineno} changes {names[k]!r}, {_kind(old)}, which a "
                             "compiled loop cannot carry (it carries arrays and numbers)" + _where(lineno))


def while_stmt(cond_fn, body_fn, vals: tuple, names: tuple, lineno: int, effects: bool, maybe: int = 0,
               read_outside: tuple = ()) -> tuple:
    """``while cond: body``: a Python loop while the condition is a Python value; once it is
    traced, a graph loop carrying the variables the body assigns. A loop whose condition is
    a true Python value that its first iteration makes traced (``udiff = 1; while udiff >
    tol: ...; udiff = np.sum(u - un)``) is the graph loop from that first iteration on
    (:func:`_graph_while_from_start`), its body traced and compiled once."""
    test = cond_fn(*vals)
    if not _traced(test) and test and not effects:
        out = _graph_while_from_start(cond_fn, body_fn, vals, names, lineno, maybe, read_outside)
        if out is not None:
            return out
    while not _traced(test):
        if not test:
            return tuple(vals)
        vals = tuple(body_fn(*vals))
        test = cond_fn(*vals)
    if effects:
        raise TraceError(f"the while loop at line {lineno} tests a traced value, so it becomes a "
                         "compiled loop, but its body has statements run for their effect on "
                         "Python objects (a bare call such as list.append or print), which a compiled "
                         "loop would run once; compute arrays instead (or use mlc.while_loop)"
                         + _where(lineno))
    skipped = np.logical_not(control_flow._truth(test, f"the condition of the while loop at line {lineno}"))
    return _graph_while(cond_fn, body_fn, vals, names, lineno, maybe, skipped)


def _graph_while_from_start(cond_fn, body_fn, vals: tuple, names: tuple, lineno: int, maybe: int,
                            read_outside: tuple):
    """The variables after ``while cond: body`` compiled as a graph loop from its first
    iteration, when its condition holds as a Python value before it and tests a traced value
    after it; else None (the loop then runs as Python until its condition is traced). Run as
    Python, the first iteration would be traced on its own and then again as the compiled
    loop's body: its kernels compiled twice.

    Only where the first iteration changes nothing Python would see: the body carries a traced
    array (a loop of Python values stays Python), a variable it first binds is read nowhere
    outside it (after a compiled loop it is unbound), and the condition after one iteration
    run as Python would test a traced value (:func:`_traced_after_first_trip`: a variable that
    is a Python number before the loop is one after the body where the body computes it from
    Python values only). A body that does not trace as a loop's (a variable's dtype or shape
    changes, a Python container it writes) runs its first iteration as Python, as before."""
    if current_trace() is None or not any(_traced(v) for v in vals) or any(
            _unbound(v) and name in read_outside for v, name in zip(vals, names)):
        return None
    positions = _carries(vals, maybe)
    accepted = []

    def accept(cond, body, n):
        python = [not _traced(vals[k]) for k in positions] + [False] * (n - len(positions))
        if not _traced_after_first_trip(cond, body, python):
            raise _StaysPython()
        accepted.append(True)

    try:
        return _graph_while(cond_fn, body_fn, vals, names, lineno, maybe, False, accept)
    except Exception:  # noqa: BLE001 - before the loop is recorded: the first iteration runs as Python
        if accepted:
            raise
        return None


class _StaysPython(Exception):
    """The condition of a while loop stays a Python value after its first iteration."""


def _traced_after_first_trip(cond, body, python: list[bool]) -> bool:
    """Whether ``cond`` (a while loop's traced condition) tests a traced value after one run of
    ``body`` (its traced body; both :class:`.control_flow._Traced`) from carried values that
    ``python`` marks Python values: a result of the body is traced where it depends on a
    carried value that is not, or on a value the body reads from around it."""
    n = len(python)

    def traced_outputs(traced, inputs_traced) -> list[bool]:
        g = traced.graph
        seen = {id(v) for v, t in zip(g.inputs[:n], inputs_traced) if t}
        seen.update(id(v) for v in g.inputs[n:n + len(traced.captured)])
        for b in g.bindings:
            if any(id(a) in seen for a in b.args):
                seen.update(id(o) for o in b.outputs)
        return [id(o) in seen for o in g.outputs]

    after = traced_outputs(body, [not p for p in python])[:n]
    return traced_outputs(cond, after)[0]


def _carrying_reached(loop, fns: tuple, vals: tuple, names: tuple, maybe: int, lineno: int,
                      share: frozenset = frozenset()) -> tuple:
    """``loop(fns, vals, names, maybe, share)``: a graph loop of Python's ``for`` or ``while``,
    ``fns`` its functions of the variables (the body last, its loop index first), traced again
    carrying the arrays its body writes through views it takes of them without assigning them
    (``v = u[1:-1]; v += d``, ``np.add(x, d, out=u[1:])``), its reads of them reading the
    carried ones (``share``: :func:`_aliased`): those writes then reach the arrays.

    >>> import numpy as np, mlc
    >>> def relax(u, steps):
    ...     for t in range(steps):             # a traced trip count: one compiled loop
    ...         inner = u[1:-1]
    ...         inner += 0.5 * (u[:-2] + u[2:])
    ...     return u * 1.0
    >>> mlc.jit(relax, tiered=False)(np.ones(4), np.int64(2))
    array([1. , 3.5, 3.5, 1. ])
    """
    try:
        return loop(fns, vals, names, maybe, share)
    except control_flow.ViewWritesLost as err:
        given = {id(v) for v in vals}
        reached = tuple({id(a): a for a in err.arrays if id(a) not in given}.values())
        if not reached:
            raise
    n = len(vals)
    passing = [lambda *g, fn=fn: fn(*g[:n]) for fn in fns[:-1]] + [_passing_on(fns[-1], n, indexed=True)]
    out = _carrying_reached(loop, tuple(passing), vals + reached,
                            names + tuple(f"an array written at line {lineno}" for _ in reached),
                            maybe + len(reached), lineno, share | frozenset(range(n, n + len(reached))))
    return tuple(out[:n])


def _graph_while(cond_fn, body_fn, vals: tuple, names: tuple, lineno: int, maybe: int, skipped,
                 accept=None) -> tuple:
    """:func:`_graph_while_once`, carrying the arrays the body writes through views
    (:func:`_carrying_reached`)."""
    return _carrying_reached(
        lambda fns, v, m, k, share: _graph_while_once(fns[0], _unindexed(fns[1]), v, m, lineno, k, skipped, accept,
                                                      share),
        (cond_fn, _indexed(body_fn)), vals, names, maybe, lineno)


def _indexed(body_fn):
    return lambda i, *g: body_fn(*g)


def _unindexed(body_fn):
    return lambda *g: body_fn(None, *g)


def _graph_while_once(cond_fn, body_fn, vals: tuple, names: tuple, lineno: int, maybe: int, skipped,
                      accept=None, share: frozenset = frozenset()) -> tuple:
    """The variables after ``while cond: body`` as a graph loop from ``vals``, the condition
    tested before each iteration; ``skipped``: whether it runs no iteration (False where the
    condition is known to hold before it). ``accept``: called on the traced condition and body
    before the loop is recorded (it may raise)."""
    positions = _carries(vals, maybe)
    _refuse_python_state(vals, names, positions, lineno, "while loop")

    def cond(carry):
        return control_flow._truth(cond_fn(*_merge(vals, positions, carry)),
                                   f"the condition of the while loop at line {lineno}")

    what_loop = f"while loop at line {lineno}"
    state = _LoopState(Plan(skipped), share)
    n = len(positions)

    def body(carry):
        given, extra = state.enter(vals, positions, carry)
        before = {k: given[k]._atom for k in positions if _traced(given[k])}
        new = tuple(body_fn(*given))
        _check_kept(names, vals, positions, new, lineno, "while loop")
        _check_aliased(vals, positions, given, new, before, state.share, names, lineno, "while loop")
        _refuse_split(vals, positions, given, before, names, f"while loop at line {lineno}")
        extra = state.plan.leave(vals, positions, given, new, names, what_loop, state.unknown)
        if _moves(positions, given, new, before, names, lineno, "while loop",
                  skip=set(state.plan.arrays) | set(state.unknown)):
            raise TraceError(f"the while loop at line {lineno} swaps arrays between its variables, so which array "
                             "each name holds after it depends on how many times it runs, known only when it "
                             "runs; end each iteration with the arrays back in place (or copy: a = b.copy())"
                             + _where(lineno))
        for k in positions:
            state.kept[k] = state.kept[k] and new[k] is given[k]
        return tuple(new[k] for k in positions) + extra

    def loop():
        init = tuple(vals[k] for k in positions) + state.plan.init(vals)
        return control_flow.while_loop(lambda carry: cond(carry[:n]), body, init, _what=f"the while loop at line {lineno}",
                                       _names=[names[k] for k in positions] + state.plan.names(names),
                                       _accept=accept)

    with _in_compiled_loop():
        out = state.run(loop, positions)
    result = list(_after_loop(vals, positions, out[:n], state.kept, names, what_loop))
    return state.after(vals, positions, out, result, names, what_loop)


def _after_loop(vals, positions, out, kept, names, what: str) -> tuple:
    """The variables after a graph loop: each carried one its last value; one the body wrote
    only in place is the same array as before it, given that value (:func:`_written`); one
    first bound inside the body is unbound (the loop may run no iteration)."""
    result = list(vals)
    for k, v in zip(positions, out):
        result[k] = _written(vals[k], v) if kept[k] else _like(v, vals[k])
    for k, v in enumerate(vals):
        if _unbound(v) and not v.why:
            result[k] = _Undefined(
                f"variable {names[k]!r} is first assigned inside the {what}, which is compiled (its "
                f"condition or range is traced, or it breaks on a traced value) and may run no "
                f"iteration; give it a value before the loop")
    return tuple(result)


def _peel(body_fn, r, vals: tuple, names: tuple, read_after: tuple):
    """``(r[1:], vals after r's first iteration)`` when a variable the body assigns is unbound
    before the loop and read after it (``for _ in range(n): b_new = A @ b; ...; if converged:
    break`` then ``return b_new``): a non-empty static range (or rows of an array) runs its first
    iteration as Python, so the variable is bound after the loop, as it is in Python; else
    ``(r, vals)``. (A temporary of the body only is left alone: peeled, a loop nest would no
    longer be one kernel.)"""
    if len(r) and any(_unbound(v) and name in read_after for v, name in zip(vals, names)):
        return r[1:], tuple(body_fn(r[0], *vals))
    return r, vals


def nest_copies(nest: tuple) -> int:
    """How many times the innermost body of the loops ``nest`` (inside a loop: ``((trips,
    inner), ...)`` from :func:`.autograph._nest`, ``trips`` a function giving a loop's range
    arguments, or None where unknown) is traced per iteration of the loop around them, were
    they all run as Python: the product down a nest, the most of loops side by side; an
    unknown trip count (or a traced one) counts one.

    >>> nest_copies(((lambda: (3,), ((lambda: (1, 5), ()),)), (None, ((lambda: (2,), ()),))))
    12
    """
    most = 1
    for trips, inner in nest:
        n = 1
        if trips is not None:
            try:
                args = trips()
                if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
                    n = max(len(builtins.range(*args)), 1)
            except Exception:  # noqa: BLE001 - a bound not computable ahead: unknown, counts one
                n = 1
        most = max(most, n * nest_copies(inner))
    return most


def for_range(range_fn, args: tuple, body_fn, vals: tuple, names: tuple, lineno: int,
              effects: bool, maybe: int = 0, read_after: tuple = (), nest: tuple = ()) -> tuple:
    """``for i in range(*args): body``: a graph loop when the bounds are traced, or when they
    are Python ints over more than :data:`UNROLL` iterations and the body carries a traced
    array, has no effects on Python objects and traces with a traced index; else a Python
    loop (the trace unrolled)."""
    if range_fn is not builtins.range or not any(_traced(a) for a in args):
        r = range_fn(*args)
        if range_fn is builtins.range and _compiled_if_traced(len(r), nest) and not effects and (
                any(_traced(v) for v in vals) or _numbers_meet_traced(body_fn, r.start, vals)):
            r, vals = _peel(body_fn, r, vals, names, read_after)
            try:
                return _graph_for(r.start, r.stop, r.step, body_fn, vals, names, lineno, maybe)
            except (TraceError, ShapeError):
                pass  # the body needs its index as a Python int (a slice's bound, a list's index)
        with _unrolled(len(r) if range_fn is builtins.range else 1):
            for i in r:
                vals = tuple(body_fn(i, *vals))
        return vals
    if effects:
        raise TraceError(f"the for loop at line {lineno} runs over a traced range, so it becomes "
                         "a compiled loop, but its body has statements run for their effect on "
                         "Python objects (a bare call such as list.append or print), which a "
                         "compiled loop would run once; compute arrays instead" + _where(lineno))
    return _graph_for(*_range_args(args, lineno), body_fn, vals, names, lineno, maybe)


def _compiled_if_traced(trips: int, nest: tuple = ()) -> bool:
    """Whether a static loop of ``trips`` iterations is compiled where its body carries traced
    values: past :data:`UNROLL` iterations, or past :data:`UNROLL_NEST` copies of the innermost
    body of the loops ``nest`` inside it (:func:`nest_copies`) with the loops around it that run
    as Python (see there).

    >>> _compiled_if_traced(8), _compiled_if_traced(9)
    (False, True)
    >>> with _unrolled(4):
    ...     _compiled_if_traced(4), _compiled_if_traced(5)
    (False, True)
    >>> _compiled_if_traced(2, ((lambda: (8,), ()),)), _compiled_if_traced(2, ((lambda: (9,), ()),))
    (False, True)
    >>> with _in_compiled_loop():
    ...     _compiled_if_traced(4), _compiled_if_traced(5)
    (False, True)
    """
    if trips > UNROLL:
        return True
    if trips <= 1 or (_copies[-1] == 1 and not nest and not _in_loop[0]):
        return False  # a loop on its own: up to UNROLL trips run as Python
    limit = UNROLL_IN_LOOP if _in_loop[0] else UNROLL_NEST
    return _copies[-1] * trips * (nest_copies(nest) if nest else 1) > limit


class _in_compiled_loop:
    """``with _in_compiled_loop():`` around the trace of a compiled loop's body (:data:`_in_loop`)."""

    def __enter__(self):
        _in_loop[0] += 1

    def __exit__(self, *exc):
        _in_loop[0] -= 1


class _unrolled:
    """``with _unrolled(trips):`` around a loop run as Python: the statements of its body are
    traced ``trips`` times more (:data:`_copies`)."""

    def __init__(self, trips: int):
        self.trips = max(trips, 1)

    def __enter__(self):
        _copies.append(_copies[-1] * self.trips)

    def __exit__(self, *exc):
        _copies.pop()


def _numbers_meet_traced(body_fn, first, vals: tuple) -> bool:
    """Whether a loop that carries only Python values makes a number of them traced (``s +=
    np.tanh(a[i, i])``): its body run once on its own (the ops it records dropped). Such a loop
    is compiled; one whose numbers stay Python numbers runs as Python."""
    if not any(isinstance(v, (int, float, complex, np.number)) and not isinstance(v, bool) for v in vals) \
            or current_trace() is None:
        return False
    try:
        with TraceContext("probe", capture=True):
            out = tuple(body_fn(first, *vals))
    except Exception:  # noqa: BLE001 - the loop then runs as Python, which reports what fails
        return False
    return any(_traced(o) and not _traced(v) for o, v in zip(out, vals))


def for_iter(iterable, body_fn, vals: tuple, names: tuple, lineno: int, effects: bool, maybe: int = 0,
             read_after: tuple = (), nest: tuple = ()) -> tuple:
    """``for item in iterable: body``: over a traced array of more than :data:`UNROLL` rows
    (whose body has no effects on Python objects) one compiled loop, ``item`` the ``i``-th
    row; else Python's loop."""
    if _traced(iterable) and iterable.ndim and _compiled_if_traced(len(iterable), nest) and not effects:
        rows = iterable
        order, vals = _peel(lambda i, *v: body_fn(rows[i], *v), range(len(rows)), vals, names, read_after)
        try:
            return _graph_for(order.start, order.stop, 1, lambda i, *v: body_fn(rows[i], *v), vals, names,
                              lineno, maybe)
        except (TraceError, ShapeError):
            pass  # the body needs a Python value of the row (traced once per row instead)
        with _unrolled(len(order)):
            for i in order:
                vals = tuple(body_fn(rows[i], *vals))
        return vals
    with _unrolled(len(iterable) if _traced(iterable) and iterable.ndim else 1):
        for item in iterable:
            vals = tuple(body_fn(item, *vals))
    return vals


def _graph_for(start, stop, step, body_fn, vals: tuple, names: tuple, lineno: int, maybe: int = 0) -> tuple:
    """:func:`_graph_for_once`, carrying the arrays the body writes through views
    (:func:`_carrying_reached`)."""
    return _carrying_reached(lambda fns, v, m, k, share: _graph_for_once(start, stop, step, fns[0], v, m, lineno, k,
                                                                          share),
                             (body_fn,), vals, names, maybe, lineno)


def _graph_for_once(start, stop, step, body_fn, vals: tuple, names: tuple, lineno: int, maybe: int = 0,
                    share: frozenset = frozenset()) -> tuple:
    """``for i in range(start, stop, step)`` as one compiled loop carrying the variables the
    body assigns (and, for those it rebinds, which arrays they name: :mod:`.loop_rebinds`)."""
    positions = _carries(vals, maybe)
    _refuse_python_state(vals, names, positions, lineno, "for loop")
    what_loop = f"for loop at line {lineno}"
    count = None
    if step != 1:  # the k-th iteration's index is start + k * step
        span = (stop - start) if step > 0 else (start - stop)
        count = (span + (abs(step) - 1)) // abs(step)
        if not _traced(count):
            count = max(count, 0)
    trips = (stop - start) if step == 1 else count
    state = _LoopState(Plan(trips <= 0 if _traced(trips) else False), share)

    def body(i, carry):
        given, extra = state.enter(vals, positions, carry)
        before = {k: given[k]._atom for k in positions if _traced(given[k])}
        new = tuple(body_fn(i, *given))
        _check_kept(names, vals, positions, new, lineno, "for loop")
        _check_aliased(vals, positions, given, new, before, state.share, names, lineno, "for loop")
        _refuse_split(vals, positions, given, before, names, f"for loop at line {lineno}")
        extra = state.plan.leave(vals, positions, given, new, names, what_loop, state.unknown)
        state.moved.update(_moves(positions, given, new, before, names, lineno,
                                  skip=set(state.plan.arrays) | set(state.unknown)))
        for k in positions:
            state.kept[k] = state.kept[k] and new[k] is given[k]
        return tuple(new[n] for n in positions) + extra

    def loop():
        init = tuple(vals[k] for k in positions) + state.plan.init(vals)
        what = dict(_what=f"the for loop at line {lineno}",
                    _names=[names[k] for k in positions] + state.plan.names(names))
        if step == 1:
            return control_flow.fori_loop(start, stop, lambda i, c: body(_ranged(i, start, stop), c), init, **what)
        return control_flow.fori_loop(0, count, lambda k, c: body(start + _ranged(k, 0, count) * step, c), init,
                                      **what)

    with _in_compiled_loop():
        out = state.run(loop, positions)
    n = len(positions)
    if state.moved:
        result = list(_after_moves(vals, positions, out[:n], state.moved, trips, names, lineno))
    else:
        result = list(_after_loop(vals, positions, out[:n], state.kept, names, what_loop))
    return state.after(vals, positions, out, result, names, what_loop)


def _refuse_split(vals, positions, given, before, names, what: str) -> None:
    """TraceError where a compiled loop's body writes a carried array whose memory another
    variable it carries, or an array it reads from around it, shares (:func:`.aliases.refuse_split_views`)."""
    written = [(names[k], vals[k]) for k in positions if k in before and given[k]._atom is not before[k]]
    if written:
        others = [(names[j], vals[j]) for j in positions if _traced(vals[j])]
        others += [("an array it reads", outer) for outer, _ in current_trace().captured]
        refuse_split_views(written, others, what)


class _LoopState:
    """What a compiled loop's body learns while traced, and traces again for: the carried
    variables it names by two names (``share``: :func:`_aliased`), those it rebinds and the
    arrays they may still name (``plan``: :mod:`.loop_rebinds`), those it writes in place
    only (``kept``), and how it moves arrays between names (``moved``)."""

    def __init__(self, plan: Plan, share: frozenset = frozenset()):
        self.plan, self.share = plan, share
        self.kept, self.moved, self.unknown = {}, {}, {}

    def enter(self, vals, positions, carry):
        n = len(positions)
        given = _aliased(vals, positions, _merge(vals, positions, carry[:n]), self.share)
        if self.plan.arrays and any(k in self.share for k in self.plan.arrays):
            raise TraceError("a compiled loop rebinds, on some paths, a variable that names the same array as "
                             "another one; copy the array (b = a.copy()) before the loop"
                             + describe_location(user_location()))
        return self.plan.enter(given, tuple(carry[n:]), positions), carry[n:]

    def run(self, loop, positions):
        """``loop()``, traced again while the body finds more to carry."""
        for _ in range(16):
            self.kept, self.unknown = {k: True for k in positions}, {}
            self.moved.clear()
            try:
                return loop()
            except _Share as again:
                self.share = again.positions
            except Rebound as again:
                self.plan = again.plan
        raise TraceError("internal: a compiled loop's body kept finding more to carry")

    def after(self, vals, positions, out, result, names, what: str) -> tuple:
        n = len(positions)
        self.plan.after(vals, result, dict(zip(positions, out[:n])), out[n:], names, what)
        for k, arrays in self.unknown.items():
            if k not in self.plan.arrays and _traced(result[k]):
                choices = [c for x, path in arrays for c in views_of(x, path, None)]
                result[k] = alias(result[k].fresh(), choices,
                                  f"variable {names[k]!r} names, after the {what}, an array that only the run "
                                  "decides (it may be another variable's, or a view of one), which the trace "
                                  f"cannot follow; copy it where it is bound ({names[k]} = ....copy())"
                                  + describe_location(user_location()))
        return tuple(result)


def _moves(positions: list[int], given: tuple, new: tuple, before: dict, names: tuple, lineno: int,
           loop: str = "for loop", skip=frozenset()) -> dict[int, int]:
    """How a loop body moves the carried arrays between its variables: ``{k: j}`` when variable
    ``k`` names, after the body, the array variable ``j`` named before it (``a, b = b, a``);
    empty when every variable names its own array or a new value. The loop carries each
    variable's value, so its arrays' contents follow the names; which array (the caller's
    argument among them) each name holds at the end is the permutation applied once per
    iteration (:func:`_after_moves`). TraceError when an array the body wrote in place
    (``before``: its value when the body began) is named by no variable after it, or two
    variables name one array: a compiled loop would lose or split those writes."""
    objects: dict[int, int] = {}
    for j in positions:  # (a number, Python's or NumPy's, is a value: which name holds it does not matter)
        if _traced(given[j]) and not given[j].is_scalar:
            objects.setdefault(id(given[j]), j)
    # (a variable still naming its own Tracer stays, though another names it too: :func:`_aliased`)
    moves = {k: k if new[k] is given[k] else objects[id(new[k])] for k in positions if id(new[k]) in objects}
    lost = [j for j, atom in before.items()
            if given[j]._atom is not atom and j not in moves.values() and j not in skip]
    if lost or len(set(moves.values())) != len(moves):
        what = (f"writes into {', '.join(repr(names[j]) for j in lost)} in place and then names another array "
                "by it" if lost else "names one array by two variables")
        raise TraceError(f"the {loop} at line {lineno} {what}, which a compiled loop cannot carry (the writes "
                         "of each iteration would reach different arrays); write into a copy (a = a.copy()) "
                         "or keep each name on its array" + _where(lineno))
    if all(k == j for k, j in moves.items()):
        return {}
    if set(moves.values()) != set(moves):
        named = ", ".join(f"{names[k]!r} -> {names[j]!r}" for k, j in sorted(moves.items()))
        raise TraceError(f"the {loop} at line {lineno} rebinds arrays between its variables ({named}) in a way "
                         "that is not a permutation of them, which a compiled loop cannot carry; swap whole "
                         "sets of arrays (a, b = b, a), or copy (a = b.copy())" + _where(lineno))
    return moves


def _after_moves(vals, positions, out, moves: dict[int, int], trips, names, lineno: int) -> tuple:
    """The variables after a loop whose body moves arrays between them (:func:`_moves`): after
    ``trips`` iterations variable ``k`` names the array the permutation, applied ``trips``
    times, leads it to, and its carried value is that array's final contents, written into it
    in place (so that the caller's argument sees them)."""
    if _traced(trips):
        names_moved = ", ".join(repr(names[k]) for k in sorted(moves))
        raise TraceError(f"the for loop at line {lineno} swaps the arrays {names_moved} between its variables, and "
                         "its trip count is traced, so which array each name holds after it is known only when "
                         "it runs; give the loop static bounds, or end it with the arrays back in place (an "
                         "even number of swaps, or a copy)" + _where(lineno))
    result = list(vals)
    for k, v in zip(positions, out):
        if k in moves:
            j = k
            for _ in range(max(int(trips), 0) % _order(moves, k)):
                j = moves[j]
            result[k] = _written(vals[j], v)
        else:
            result[k] = v
    return tuple(result)


def _order(moves: dict[int, int], k: int) -> int:
    """The length of ``k``'s cycle in permutation ``moves``."""
    n, j = 1, moves[k]
    while j != k:
        j, n = moves[j], n + 1
    return n


def _ranged(index, start, stop):
    """``index`` (a compiled loop's traced index over ``range(start, stop)``), its range noted in
    its trace where the bounds are Python ints (a slice ``x[i:i + 2]`` is then known to hold 2
    elements: :mod:`mlc.numpy.windows`)."""
    if _traced(index) and isinstance(start, int) and isinstance(stop, int) and stop > start:
        index._ctx.note_range(index, start, stop - 1)
    return index


def _range_args(args: tuple, lineno: int):
    """(start, stop, step) of ``range(*args)`` with traced bounds; the step must be a
    non-zero Python int."""
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1) if len(args) == 2 else args
    if _traced(step) or not isinstance(step, int) or step == 0:
        raise TraceError(f"the for loop at line {lineno}: range()'s step must be a non-zero Python "
                         f"int (the bounds may be traced), got {step!r}" + _where(lineno))
    return start, stop, step


def call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, ``fn`` with its control flow rewritten first where it is a Python
    function of the user's (not mlc's, NumPy's or the standard library's), as the jitted
    function's own is (:func:`.autograph.convert`)."""
    if isinstance(fn, types.FunctionType) and not (fn.__module__ or "").startswith(_LIBRARIES) \
            and not _writes_nonlocal(fn.__code__):
        fn = _CONVERT[0](fn)
    if isinstance(fn, np.vectorize) and any(_traced(a) for a in args):
        if _VECTORIZE[0] is None:
            import_module(VECTORIZE_MODULE)  # registers its hook on import, as a backend package does
        return _VECTORIZE[0](fn, args, kwargs)  # its function mapped over the elements
    return fn(*args, **kwargs)


@functools.lru_cache(maxsize=512)
def _writes_nonlocal(code) -> bool:
    """Whether a function assigns a variable of the function around it (``nonlocal``): the
    rewritten copy would hold that variable's value, not the variable, so it is called as it is."""
    return any(i.opname == "STORE_DEREF" and i.argval in code.co_freevars for i in dis.get_instructions(code))


#: the rewrite of a function (:func:`.autograph.convert`, which imports this module and sets it)
_CONVERT = [lambda fn: fn]

#: np.vectorize(f)(x) of traced arguments: the function set by the module named here (it maps f
#: by vmap, a transformation of the layer above), loaded the first time one is called
VECTORIZE_MODULE = "mlc.transforms.vectorize"
_VECTORIZE: list = [None]
_APPLY_ALONG_AXIS: list = [None]  # np.apply_along_axis(f, axis, x) of a traced x, the same way


#: functions from these modules are called as they are
_LIBRARIES = ("mlc", "numpy", "scipy", "functools", "builtins", "jax", "numba", "math", "operator")


def helper_stmt(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` as a statement of its own (run for its effect): inside a compiled
    loop's body, which runs once while traced, only a function of the user's that changes
    nothing but the arrays it is given (:func:`.autograph_analysis.effect_free_function`, and
    no Python list, dict or set among the arguments); else a TraceError (a loop over a static
    range then runs as Python)."""
    ctx = current_trace()
    if ctx is not None and ctx.name in _LOOP_TRACES and not _effect_free(fn, args, kwargs):
        name = getattr(fn, "__name__", repr(fn))
        raise TraceError(f"a compiled loop calls {name}(...) as a statement, for its effect, and {name} may "
                         "change Python objects (it writes into a global, a list, a dict or an attribute, "
                         "calls a function for its effect, or its source is not available), which a compiled "
                         "loop would do once; make it return arrays (x = f(...)) or only write into the "
                         "arrays it is given" + describe_location(user_location()))
    return call(fn, *args, **kwargs)


def array_stmt(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, a call of a method or of a module's function as a statement of
    its own (``np.add(x, 1, out=x)``, ``a[::2].fill(0)``, ``x.sort()``): inside a compiled loop's
    body, which runs once while traced, only one that changes nothing but arrays (a function
    or ufunc of NumPy, not of ``numpy.random``, or of ``mlc.numpy``; a traced array's method),
    and no Python list, dict or set among the arguments; else a TraceError (``lst.append(v)``:
    a loop over a static range then runs as Python)."""
    ctx = current_trace()
    if ctx is not None and ctx.name in _LOOP_TRACES and not _changes_only_arrays(fn, args, kwargs):
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        raise TraceError(f"a compiled loop calls {name}(...) as a statement, for its effect, which may change "
                         "Python objects (a list, a dict, a generator's state), and a compiled loop would do "
                         "that once; make it compute arrays (x = f(...)) or write into arrays (out=)"
                         + describe_location(user_location()))
    return fn(*args, **kwargs)


def _changes_only_arrays(fn, args, kwargs) -> bool:
    if any(isinstance(a, (list, dict, set, bytearray)) for a in (*args, *kwargs.values())):
        return False
    if isinstance(fn, np.ufunc):
        return True
    if isinstance(getattr(fn, "__self__", None), Tracer):  # a traced array's method: a.fill(0), a.sort()
        return True
    module = getattr(fn, "__module__", None) or ""
    if module == "mlc.numpy" or module.startswith("mlc.numpy."):  # mlc's NumPy functions
        return True
    return (module == "numpy" or module.startswith("numpy.")) and not module.startswith("numpy.random")


#: The traces of a compiled loop's condition and body (:mod:`.control_flow`).
_LOOP_TRACES = frozenset({"for_loop_body", "while_body", "while_loop cond"})
_EFFECT_FREE: dict = {}


def _effect_free(fn, args, kwargs) -> bool:
    if not isinstance(fn, types.FunctionType) or (fn.__module__ or "").startswith("mlc."):
        return False
    if any(isinstance(a, (list, dict, set, bytearray)) for a in (*args, *kwargs.values())):
        return False
    known = _EFFECT_FREE.get(fn.__code__)
    if known is None:
        known = _EFFECT_FREE[fn.__code__] = _source_effect_free(fn)
    return known


def _source_effect_free(fn) -> bool:
    import ast  # noqa: PLC0415 - deferred: keeps `import mlc` fast
    import inspect  # noqa: PLC0415 - deferred: keeps `import mlc` fast
    import textwrap  # noqa: PLC0415 - deferred: keeps `import mlc` fast
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    func = tree.body[0] if tree.body else None
    return isinstance(func, ast.FunctionDef) and effect_free_function(func)


def python_test(value, why: str, lineno: int):
    """The condition of a loop kept as Python: a traced one is refused, naming the reason."""
    if _traced(value):
        raise TraceError(f"{why} (line {lineno}) cannot be compiled on a traced condition; write "
                         "the loop without it (a flag in the condition), or use mlc.while_loop"
                         + _where(lineno))
    return value


# ------------------------------------------------------------------------ operators


def _short_circuit(first, rest, combine, stops: bool):
    """Python's short-circuit chain on Python values (the first value whose truth is
    ``stops`` ends it); from a traced operand on, the rest evaluated and ``combine``d."""
    value = first
    for thunk in rest:
        if _traced(value):
            value = combine(value, thunk())
        elif bool(value) == stops:
            return value
        else:
            value = thunk()
    return value


def and_(first, *rest):
    """``a and b and ...``: Python's on Python values; a traced operand makes the rest
    evaluated and combined with ``logical_and``."""
    return _short_circuit(first, rest, np.logical_and, False)


def or_(first, *rest):
    """``a or b or ...``: Python's on Python values; a traced operand makes the rest
    evaluated and combined with ``logical_or``."""
    return _short_circuit(first, rest, np.logical_or, True)


def not_(value):
    return np.logical_not(value) if _traced(value) else not value


def index_trick(maker, items: tuple):
    """``np.r_[items]`` / ``np.c_[items]``: NumPy's own on Python values; with a traced item, the
    items (scalars, arrays, ``start:stop:step`` ranges) made arrays and concatenated, along the
    first axis (``r_``) or as columns along the last (``c_``)."""
    if not any(_traced(k) for k in items) or maker not in (np.r_, np.c_):
        return maker[items if len(items) != 1 else items[0]]
    if any(isinstance(k, str) for k in items):
        raise TraceError("np.r_/np.c_ with a string directive does not trace; write np.concatenate / "
                         "np.stack of the arrays" + describe_location(user_location()))
    parts = []
    for k in items:
        if isinstance(k, slice):
            step = 1 if k.step is None else k.step
            start = 0 if k.start is None else k.start
            k = np.linspace(start, k.stop, int(abs(step))) if isinstance(step, complex) else np.arange(start, k.stop, step)
        parts.append(np.atleast_1d(k) if maker is np.r_ else _column(k))
    return np.concatenate(parts, axis=0 if maker is np.r_ else -1)


def _column(k):
    """An item of ``np.c_``: a 1-D array as a column, a scalar as a 1x1 array, others as they are."""
    k = np.atleast_1d(k)
    return k.reshape(-1, 1) if k.ndim == 1 else k


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """``np.apply_along_axis`` of a traced array (NumPy's dispatch sends it here): ``func1d``
    mapped over the 1-D slices by the transformation the module :data:`VECTORIZE_MODULE` sets."""
    if _APPLY_ALONG_AXIS[0] is None:
        import_module(VECTORIZE_MODULE)  # registers its hook on import, as a backend package does
    return _APPLY_ALONG_AXIS[0](func1d, axis, arr, *args, **kwargs)


def bound_or(thunk, default):
    """The value ``thunk`` reads, or ``default`` where its name is unbound."""
    try:
        return thunk()
    except NameError:
        return default


def raise_if(test, exception, lineno: int) -> None:
    """``if test: raise exception()``: Python's on a Python test; on a traced one, a check the
    compiled function makes when it runs (before it writes any argument), raising the
    exception then with its message, as NumPy code validating its input expects (inside a
    compiled loop or conditional too: :mod:`.checks`)."""
    if not _traced(test):
        if test:
            raise exception()
        return
    error = exception()
    if isinstance(error, type):
        error = error()
    ctx = test._ctx
    flag = control_flow._truth(test, f"the condition of the `if` at line {lineno}")
    ctx.check_range(flag.astype("int64"), RAISES,
                    f"{type(error).__name__}\x00{error}{describe_location(user_location())}")


def assert_(test, message, lineno: int) -> None:
    """``assert test, message``: Python's on a Python test; on a traced one, checked when the
    compiled function runs (:func:`raise_if`)."""
    if not _traced(test):
        assert test, message()
        return
    text = message()
    raise_if(np.logical_not(test), lambda: AssertionError(*(() if text is None else (text,))), lineno)


def _items(args: tuple) -> tuple:
    """The values ``max``/``min`` compare: the arguments, or the one argument's items (a list of
    traced scalars; a traced 1-D array's elements, as Python iterates them)."""
    if len(args) != 1:
        return args
    (only,) = args
    if _traced(only):
        return (only,) if only.ndim == 1 else args  # (of rows: Python compares arrays, which raises)
    return tuple(only)


def _builtin_extreme(fn, args, reduce_one, pairwise):
    """``fn(*args)`` (the builtin ``max`` or ``min``) on Python values; when one is traced,
    ``reduce_one`` of a lone array or ``pairwise`` folded over the values."""
    items = _items(args)
    if any(_traced(a) for a in items):
        return reduce_one(items[0]) if len(items) == 1 else functools.reduce(pairwise, items)
    return fn(*items) if len(args) > 1 else fn(items)


def builtin_max(fn, *args):
    """``max(a, b, ...)``, ``max(values)``: the builtin on Python values, ``np.maximum`` of them
    when one is traced."""
    return _builtin_extreme(fn, args, np.max, np.maximum)


def builtin_min(fn, *args):
    """``min(a, b, ...)``, ``min(values)``: the builtin on Python values, ``np.minimum`` of them
    when one is traced."""
    return _builtin_extreme(fn, args, np.min, np.minimum)
