"""Operator fusion, after TVM's FuseOps: group ops that will run as one kernel.

Every op has a fusion pattern (elemwise < broadcast < injective < reduction
< out_elemwise_fusable < opaque). An op may join the group of its immediate
*post-dominator* (the nearest op every path from it reaches) when every op on
the way is cheap enough, so a value with several consumers is never
computed twice: it fuses only into a group that contains all its consumers.

- elemwise/broadcast producers fuse into injective, reduction and epilogue
  consumers (phase 0 onwards);
- reductions and out_elemwise_fusable ops (matmul, conv2d) take an
  elementwise epilogue: their post-dominator path must be elementwise
  (phase 0);
- row reductions (over trailing axes, like softmax's max and sum or
  layer_norm's means) also fuse with the broadcast consumers of their
  result, other row reductions and elementwise ops on the same rows, when
  every op of the merged group keeps the same leading ("row") dimensions
  (phase 0): the kernel then handles one row at a time, the row staying
  in cache between its reduction and its uses (see
  :mod:`mlc.schedules.default.rows`);
- injective ops (reshape, transpose, slicing) fuse into injective
  consumers (phase 1);
- opaque ops, multi-output ops and values the graph returns end a group;
- a computed value read through two or more different windows that overlap (``u[2:, 1:-1]``,
  ``u[:-2, 1:-1]``: a stencil's reads of the time step before) ends a group: fused,
  its whole computation would be inlined at every window, once per window and
  again for every earlier step it reads (an unrolled time loop's kernel grew by the
  stencil's width per step, in its run time and in its compile time).

Each group becomes one ``fused`` binding whose ``body`` attribute is the
group as a Graph; its results are the group's values used outside it.

>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> x, w = Var("x", TensorType((4, 8), "float32")), Var("w", TensorType((8, 3), "float32"))
>>> b = Var("b", TensorType((3,), "float32"))
>>> y, z = Var("y", TensorType((4, 3), "float32")), Var("z", TensorType((4, 3), "float32"))
>>> g = Graph((x, w, b), (Binding((y,), "matmul", (x, w)), Binding((z,), "add", (y, b))), (z,))
>>> fused = fuse_ops(g)
>>> fused.ops(), fused.bindings[0].attr("name"), fused.bindings[0].attr("body").ops()
(['fused'], 'fused_matmul_add', ['matmul', 'add'])
"""
from __future__ import annotations

from ...errors import MLCError
from ...ir.graph import Binding, Graph, Var
from ...ops.library._common import normalize_axes
from ...ir.control import CONTROL_OPS
from ...ops.registry import PATTERNS, get_op
from .nested import nested

__all__ = ["fuse_ops", "group_name", "MAX_GROUP_OPS", "NOT_OPS"]

#: The most ops one fused kernel may hold (TVM's max_fuse_depth).
MAX_GROUP_OPS = 64

#: The most nodes a value's computation may have written out as a tree (each use of a value
#: it reads copies that value's tree) before a value it reads twice is computed into a buffer.
MAX_INLINED_TREE = 256

ELEMWISE, BROADCAST, INJECTIVE, REDUCTION, OUT_EWISE, OPAQUE = range(len(PATTERNS))


#: Ops that read their operand at shifted or permuted positions (a window of it): two
#: different windows of one computed value would each inline its computation.
WINDOW_OPS = frozenset({"slice", "pad", "flip", "take"})

#: Ops that compute nothing: each element of the result is an element of the operand.
DATA_MOVEMENT_OPS = frozenset({"slice", "reshape", "transpose", "flip", "squeeze", "expand_dims", "broadcast_to"})

#: Binding forms that are not registry ops: fusion leaves them as they are.
NOT_OPS = frozenset({"fused", "call_tir", "call_dps_packed", "view"}) | CONTROL_OPS


def _overlapping_windows(consumers: list[Binding]) -> bool:
    """Whether two different windows among ``consumers`` read overlapping parts of their operand
    (``u[2:]`` and ``u[:-2]``: yes; ``qkv[:, :d]`` and ``qkv[:, d:]``: no, each element is
    computed once either way). A window op other than a slice may read anything."""
    windows = list({(b.op, b.attrs): b for b in consumers if b.op in WINDOW_OPS}.values())
    for k, a in enumerate(windows):
        for b in windows[k + 1:]:
            if a.op != "slice" or b.op != "slice" or _boxes_meet(a, b):
                return True
    return False


def _boxes_meet(a: Binding, b: Binding) -> bool:
    """Whether two slices' boxes (start to stop on every axis, steps aside) intersect."""
    try:
        bounds = [tuple(x.attr(k) for k in ("starts", "stops")) for x in (a, b)]
        (sa, ea), (sb, eb) = bounds
        return all(max(x0, y0) < min(x1, y1) for x0, x1, y0, y1 in zip(sa, ea, sb, eb))
    except (TypeError, ValueError, KeyError, MLCError):  # bounds not plain numbers: assume they meet
        return True


def _shared_gather_chains(bindings, producer: dict, consumers: list) -> list[int]:
    """The values that depend on a gather at computed indices (``take(x, f(y))``, a read at
    a position read before, as a back-tracking loop's ``path[t] = back[t + 1, path[t + 1]]``)
    and have several consumers: each is computed once, into a buffer. Inlined, each use
    would copy its whole chain of gathers, and every link of the chain that uses its
    predecessor twice (an index wrapped by ``where(i < 0, i + n, i)``) doubles the kernel:
    a chain of ten links took minutes to compile."""
    chained, shared = [False] * len(bindings), []
    for i, b in enumerate(bindings):
        if b.op in NOT_OPS:
            continue
        feeds = [producer.get(id(a)) for a in b.args]
        chained[i] = (b.op == "take" and len(b.args) > 1 and feeds[1] is not None) or any(
            p is not None and chained[p] for p in feeds)
        if chained[i] and len(consumers[i]) > 1:
            shared.append(i)
            chained[i] = False  # read from its buffer by what follows
    return shared


def _expanding_values(bindings, producer: dict, consumers: list) -> list[int]:
    """The values read by several ops whose inlined computation would grow past
    :data:`MAX_INLINED_TREE` nodes: each is computed once, into a buffer. A fused kernel is
    one expression per output, and an expression reads a value by copying its computation, so
    a chain of steps that each read the step before twice (``a, b = where(b == 0, a, b),
    where(b == 0, 0, a % b)``, Euclid unrolled) doubles per step: eight such steps took
    minutes to compile. Sizes are counted as if every producer were inlined."""
    size, shared = [1] * len(bindings), []
    for i, b in enumerate(bindings):
        if b.op in NOT_OPS:
            continue
        size[i] = 1 + sum(size[p] for p in (producer.get(id(a)) for a in b.args) if p is not None)
        if size[i] > MAX_INLINED_TREE and len(consumers[i]) > 1:
            shared.append(i)
            size[i] = 1  # read from its buffer by what follows
    return shared


def _op_pattern(b: Binding) -> int:
    if len(b.outputs) != 1 or b.op in NOT_OPS:
        return OPAQUE
    pattern = get_op(b.op).pattern
    # a custom op (mlc.op) not yet called has no pattern: fuse nothing into it
    return OPAQUE if pattern is None else PATTERNS.index(pattern)


def _row_prefix(b: Binding) -> tuple[int, ...] | None:
    """The kept leading dimensions of a reduction over trailing axes (``x.max(axis=-1)``
    of a (4096, 1024) ``x``: (4096,)); None for any other reduction."""
    axis = b.attr("axis", None)
    x = b.args[0] if b.args else None
    if axis is None or not hasattr(x, "type") or not x.type.shape:
        return None
    shape = x.type.shape
    try:
        axes = normalize_axes(b.op, axis, len(shape))
    except MLCError:
        return None
    first = axes[0] if axes else 0
    if first == 0 or axes != tuple(range(first, len(shape))):
        return None
    return tuple(shape[:first])


class _Group:
    """A union-find set of bindings; the root holds the group's pattern, size and members."""

    __slots__ = ("parent", "pattern", "size", "members")

    def __init__(self, pattern: int, index: int):
        self.parent: _Group | None = None
        self.pattern = pattern
        self.size = 1
        self.members = [index]

    def root(self) -> _Group:
        g = self
        while g.parent is not None:
            g = g.parent
        return g


class _DomNode:
    """A node of the post-dominator tree: parent, depth and the path pattern to the parent."""

    __slots__ = ("parent", "depth", "pattern")

    def __init__(self, parent: int | None, depth: int, pattern: int):
        self.parent, self.depth, self.pattern = parent, depth, pattern


class _Fuser:
    def __init__(self, graph: Graph):
        self.bindings = graph.bindings
        n = len(self.bindings)
        producer = {id(v): i for i, b in enumerate(self.bindings) for v in b.outputs}
        self.patterns = [_op_pattern(b) for b in self.bindings]
        # consumers[i]: (consumer index, edge pattern) for each use of i's results
        self.consumers: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for j, b in enumerate(self.bindings):
            for a in b.args:
                i = producer.get(id(a))
                if i is not None:
                    self.consumers[i].append((j, self._edge_pattern(j, a)))
        returned = {id(a) for a in graph.outputs}
        self.extern = [any(id(v) in returned for v in b.outputs) for b in self.bindings]
        # a value read through overlapping different windows is computed once, into a buffer
        self.windowed = [_overlapping_windows([self.bindings[j] for j, _ in self.consumers[i]]) for i in range(n)]
        for i in (*_shared_gather_chains(self.bindings, producer, self.consumers),
                  *_expanding_values(self.bindings, producer, self.consumers)):
            self.windowed[i] = True
        self.dom = self._post_dominators()
        self.groups = [_Group(p, i) for i, p in enumerate(self.patterns)]

    def _edge_pattern(self, consumer: int, arg) -> int:
        """A broadcast op reading an operand of its output's shape is elementwise on that edge."""
        pattern = self.patterns[consumer]
        if pattern == BROADCAST and arg.type.shape == self.bindings[consumer].outputs[0].type.shape:
            return ELEMWISE
        return pattern

    # ------------------------------------------------------------ dominators

    def _post_dominators(self) -> list[_DomNode]:
        n = len(self.bindings)
        dom: list[_DomNode | None] = [None] * n
        for i in range(n - 1, -1, -1):
            if self.extern[i] or not self.consumers[i]:
                dom[i] = _DomNode(None, 1, OPAQUE)
                continue
            pattern = ELEMWISE
            parent = self.consumers[i][0][0]
            for j, edge in self.consumers[i]:
                pattern = max(pattern, edge)
                parent, pattern = self._lca(parent, j, pattern, dom)
                if parent is None:
                    break
            depth = dom[parent].depth + 1 if parent is not None else 1
            dom[i] = _DomNode(parent, depth, pattern)
        return dom

    @staticmethod
    def _lca(a: int | None, b: int | None, pattern: int, dom) -> tuple[int | None, int]:
        while a != b:
            if a is None or b is None:
                return None, pattern
            if dom[a].depth < dom[b].depth:
                pattern = max(pattern, dom[b].pattern)
                b = dom[b].parent
            elif dom[b].depth < dom[a].depth:
                pattern = max(pattern, dom[a].pattern)
                a = dom[a].parent
            else:
                pattern = max(pattern, dom[a].pattern, dom[b].pattern)
                a, b = dom[a].parent, dom[b].parent
        return a, pattern

    # ---------------------------------------------------------------- paths

    def _path_nodes(self, src: int, sink: int) -> list[int]:
        """Every node on a path from ``src`` (exclusive) to ``sink`` (inclusive)."""
        seen, order, stack = set(), [], [j for j, _ in self.consumers[src]]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            order.append(node)
            if node != sink:
                stack.extend(j for j, _ in self.consumers[node])
        return order

    def _check_path(self, src: int, sink: int, ok) -> bool:
        return all(ok(self.groups[node].root().pattern, node == sink) and (node == sink or not self.windowed[node])
                   for node in self._path_nodes(src, sink))

    def _commit(self, src: int, sink: int) -> None:
        target = self.groups[sink].root()
        for node in [src] + self._path_nodes(src, sink):
            child = self.groups[node].root()
            if child is not target:
                child.parent = target
                target.size += child.size
                target.pattern = max(target.pattern, child.pattern)
                target.members += child.members
                child.members = []

    # ----------------------------------------------------------------- fuse

    def run(self) -> list[int]:
        for phase in range(2):
            for i in range(len(self.bindings)):
                self._try_fuse(i, phase)
        return [id(self.groups[i].root()) for i in range(len(self.bindings))]

    def _try_fuse(self, i: int, phase: int) -> None:
        dom, group = self.dom[i], self.groups[i]
        if group.pattern == OPAQUE or dom.parent is None or self.windowed[i]:
            return
        sink = dom.parent
        if self.groups[sink].root() is group.root():
            return
        if self.groups[sink].root().size + group.root().size > MAX_GROUP_OPS:
            return
        if group.pattern in (OUT_EWISE, REDUCTION):
            if phase == 0 and dom.pattern == ELEMWISE and \
                    self._check_path(i, sink, lambda p, is_sink: p <= BROADCAST or is_sink):
                self._commit(i, sink)
                return
        elif group.pattern <= BROADCAST:
            if dom.pattern <= INJECTIVE or dom.pattern == REDUCTION:
                def ok(p, is_sink):
                    return p != OPAQUE if is_sink else p <= INJECTIVE
                if self._check_path(i, sink, ok):
                    self._commit(i, sink)
                    return
        elif group.pattern == INJECTIVE and phase == 1:
            if dom.pattern <= INJECTIVE and self._check_path(i, sink, lambda p, is_sink: p <= INJECTIVE):
                self._commit(i, sink)
            return
        if phase == 0 and group.root().pattern <= REDUCTION and dom.pattern <= REDUCTION:
            self._try_fuse_rows(i, sink)

    # ------------------------------------------------------------------ rows

    def _try_fuse_rows(self, i: int, sink: int) -> None:
        """Fuse ``i``'s group up to its post-dominator when the merged group is a
        row group: its reductions all reduce trailing axes and keep the same leading
        dimensions, which every op's result starts with."""
        path = self._path_nodes(i, sink)
        roots = {id(g): g for g in (self.groups[n].root() for n in [i] + path)}
        if any(g.pattern > REDUCTION for g in roots.values()):
            return
        members = [m for g in roots.values() for m in g.members]
        if len(members) > MAX_GROUP_OPS:
            return
        rows = None
        for m in members:
            if self.patterns[m] == REDUCTION:
                prefix = _row_prefix(self.bindings[m])
                if prefix is None or (rows is not None and prefix != rows):
                    return
                rows = prefix
        if rows is None:
            return
        if all(self.bindings[m].outputs[0].type.shape[:len(rows)] == rows for m in members):
            self._commit(i, sink)


def group_name(ops: list[str]) -> str:
    """``fused_matmul_add``: the name of a fused group of ``ops``."""
    short = [op.split(".")[-1] for op in ops]
    return "fused_" + "_".join(short[:6]) + ("_etc" if len(short) > 6 else "")


def _make_group(members: list[Binding], used_outside: set[int]) -> Binding:
    """The ``fused`` binding for ``members`` (in order); a lone call_tir, library call,
    view or already fused binding stays as it is."""
    if len(members) == 1 and members[0].op in NOT_OPS:
        return members[0]
    inside = {id(v) for b in members for v in b.outputs}
    inputs: dict[int, Var] = {}
    for b in members:
        for a in b.args:
            if isinstance(a, Var) and id(a) not in inside:
                inputs.setdefault(id(a), a)
    if len(members) == 1 and get_op(members[0].op).prim_func is not None:
        # a hand-written PrimFunc writes all its outputs: the group returns them, used or not
        outputs = members[0].outputs
    else:
        outputs = tuple(v for b in members for v in b.outputs if id(v) in used_outside)
    name = group_name([b.op for b in members])
    body = Graph(tuple(inputs.values()), tuple(members), outputs, name=name)  # printed under that name
    return Binding(outputs, "fused", tuple(inputs.values()), (("body", body), ("name", name)),
                   members[-1].loc)


def _input_window_copies(graph: Graph) -> Graph:
    """``graph`` with each window of its inputs (a slice, reshape, transpose... of an input: it
    computes nothing) that several injective ops read made once per reader, so that each
    reader's group takes its own copy: read where it is used, the window costs the loads the
    reader makes anyway, where made once it is a copy of the input on every call. A loop's body
    reading ``wcon[1:, :, k]`` and ``wcon[1:, :, k + 1]`` copied all of ``wcon`` twice in each
    iteration.

    >>> from mlc.ops.registry import TensorType
    >>> t, r = TensorType((5,), "float32"), TensorType((4,), "float32")
    >>> x, w, a, b = Var("x", t), Var("w", r), Var("a", r), Var("b", r)
    >>> g = Graph((x,), (Binding((w,), "slice", (x,), (("starts", (1,)), ("stops", (5,)), ("steps", (1,)))),
    ...                  Binding((a,), "exp", (w,)), Binding((b,), "negative", (w,))), (a, b))
    >>> _input_window_copies(g).ops()
    ['slice', 'exp', 'slice', 'negative']
    """
    produced = {id(v) for b in graph.bindings for v in b.outputs}
    returned = {id(v) for v in graph.outputs}
    readers: dict[int, list[Binding]] = {}
    for b in graph.bindings:
        for a in b.args:
            readers.setdefault(id(a), []).append(b)
    windows = {}
    for b in graph.bindings:
        if b.op not in DATA_MOVEMENT_OPS or len(b.outputs) != 1 or id(b.outputs[0]) in returned \
                or any(id(a) in produced for a in b.args):
            continue
        users = list({id(u): u for u in readers.get(id(b.outputs[0]), [])}.values())
        if len(users) > 1 and all(_op_pattern(u) <= INJECTIVE for u in users):
            windows[id(b.outputs[0])] = b
    if not windows:
        return graph
    bindings = []
    for n, b in enumerate(graph.bindings):
        if len(b.outputs) == 1 and id(b.outputs[0]) in windows:
            continue  # made again before each reader
        args, copies = list(b.args), {}
        for k, a in enumerate(args):
            w = windows.get(id(a))
            if w is None:
                continue
            if id(a) not in copies:
                copies[id(a)] = Var(f"{a.name}_{n}", a.type)
                bindings.append(Binding((copies[id(a)],), w.op, w.args, w.attrs, w.loc))
            args[k] = copies[id(a)]
        bindings.append(b if not copies else Binding(b.outputs, b.op, tuple(args), b.attrs, b.loc))
    return graph.with_bindings(bindings)


@nested
def fuse_ops(graph: Graph) -> Graph:
    """Group the graph's ops into ``fused`` bindings (a single op is a group of one).

    Bindings that are not registry ops (``call_tir``, ``call_dps_packed``,
    ``view``, ``fused``) are opaque: they end groups and are kept as they are.
    A window of the inputs that several ops read is first made once per reader
    (:func:`_input_window_copies`)."""
    if not graph.bindings:
        return graph
    graph = _input_window_copies(graph)
    group_of = _Fuser(graph).run()
    members: dict[int, list[Binding]] = {}
    last: dict[int, int] = {}
    for i, (b, g) in enumerate(zip(graph.bindings, group_of)):
        members.setdefault(g, []).append(b)
        last[g] = i
    owner = {id(v): g for b, g in zip(graph.bindings, group_of) for v in b.outputs}
    used_outside: set[int] = {id(a) for a in graph.outputs}
    for b, g in zip(graph.bindings, group_of):
        used_outside.update(id(a) for a in b.args if owner.get(id(a), g) != g)
    order = sorted(members, key=last.__getitem__)
    return graph.with_bindings(_make_group(members[g], used_outside) for g in order)
