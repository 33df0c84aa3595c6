"""The graph's program as IR: a PrimFunc ``main`` that allocates the workspace and calls the kernels.

The last graph pass. A memory-planned graph of ``call_tir``,
``call_dps_packed`` and ``view`` bindings becomes one more PrimFunc of its
module, named like the graph, which every backend compiles like any other
function (the llvm backend into one native entry point, the reference
backend by interpreting it):

- parameters: the graph inputs, then its constants (the caller binds them
  once), then one buffer per distinct returned value (the caller allocates
  them for each call: every result is a fresh array); a 0-d number constant
  is no parameter: ``main`` stores it into a buffer of its own
  (:func:`made_in_main`), so that a call binds nothing but its arguments;
- one ``Allocate`` per planned storage; each intermediate value is a
  :class:`~mlc.ir.calls.DeclBuffer` of its storage, and a ``view`` binding a
  ``DeclBuffer`` of the memory it views: no copy;
- each ``call_tir`` is a :class:`~mlc.ir.calls.CallPrimFunc`, each
  ``call_dps_packed`` a :class:`~mlc.ir.calls.CallPacked`;
- an in-place kernel's output (:mod:`.inplace`) aliased by the plan is its argument's buffer;
  any other in-place output is first a copy of its argument (a ``copy`` kernel before the call);
- a returned input or constant is copied into its output by a small copy
  kernel (``copy``, added to the module), so that ``main`` writes every output.

The function carries ``"mlc.graph_main": (inputs, constants)``, so schedules,
``verify_bounds`` and the TIR lowering pipeline leave it alone.

>>> from mlc.ir.types import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> from mlc.passes.graph import run_graph_passes
>>> t = TensorType((4,), "float32")
>>> x, a, b = Var("x", t), Var("a", t), Var("b", TensorType((), "float32"))
>>> g = run_graph_passes(Graph((x,), (Binding((a,), "exp", (x,)), Binding((b,), "sum", (a,))), (b,)))
>>> print(g.module["main"].script())  # doctest: +NORMALIZE_WHITESPACE
@T.prim_func
def main(x: T.Buffer((4,), "float32"), b: T.Buffer((), "float32")):
    T.func_attr({"global_symbol": "main", "mlc.graph_main": (1, 0), "tir.noalias": False})
    T.call_prim_func("fused_exp_sum", x, b)

A graph the pass cannot turn into a program (an op left unlowered, a result
without a storage plan, a kernel the module lacks, a library function nobody
registered, a value used before it is defined) raises IRError naming the binding.
"""
from __future__ import annotations

from ...errors import IRError, ShapeError
from ...ir import te
from ...ir.buffer import Buffer, decl_buffer
from ...ir.calls import GRAPH_MAIN_ATTR, MAY_ALIAS, CallPacked, CallPrimFunc, DeclBuffer, is_graph_main
from ...ir.control import bodies, check_control, is_control
from ...ir.expr import BufferLoad, Cast, IntImm, PrimExpr, const
from ...ir.expr import Var as TirVar
from ...ir.graph import Constant, Graph, Var, is_symbolic_graph
from ...ir.names import unique_name
from ...ir.tir import Allocate, BufferStore, For, IfThenElse, IRModule, PrimFunc, Stmt, While, seq
from ...ops.hand_written import REGION_WRITE
from ...runtime.packed import list_funcs
from .inplace import aliases, inplace_pairs
from .pointwise import pointwise_update

__all__ = ["emit_main", "main_name", "main_outputs", "check_runnable", "all_constants", "RUNNABLE"]

#: The binding forms a graph's main runs.
RUNNABLE = ("call_tir", "call_dps_packed", "view", "for_loop", "while_loop", "switch")


def emit_main(graph: Graph) -> Graph:
    """``graph`` with its ``main`` PrimFunc (named ``graph.name``) added to ``graph.module``.
    A graph whose inputs have symbolic dimensions (``@mlc.jit(dynamic=...)``) has a ``main``
    of symbolic shapes: its sizes are bound from its inputs at each call, and the memory it
    allocates has the size of this call's values."""
    if is_symbolic_graph(graph):
        _check_symbolic(graph)
    module = graph.module if graph.module is not None else IRModule({})
    check_runnable(graph, module)
    name = _free_name(graph.name, module)
    func, copies = _main(graph, module)
    module = IRModule({**module, **copies, name: func})
    return graph.with_bindings(graph.bindings, module=module)


def _check_symbolic(graph: Graph) -> None:
    """ShapeError where symbolic-shaped ``graph`` holds a loop or conditional: its main
    does not run those with dynamic axes yet."""
    for b in graph.bindings:
        if is_control(b):
            raise ShapeError(f"graph {graph.name!r}: a compiled loop or conditional ({b.op}) does "
                             "not run with dynamic axes yet; call the function without dynamic=, "
                             "or with the loop unrolled" + (f"\n  at {b.loc}" if b.loc else ""))


def main_name(graph: Graph) -> str:
    """The name of ``graph``'s main in ``graph.module`` (after :func:`emit_main`): the graph's
    name, unless a kernel had taken it."""
    mains = [name for name, func in (graph.module or {}).items() if is_graph_main(func)]
    if graph.name in mains:
        return graph.name
    if len(mains) == 1:
        return mains[0]
    raise IRError(f"graph {graph.name!r} has no main among {mains}; run emit_main(graph) first")


def main_outputs(graph: Graph) -> tuple[list, tuple[int, ...]]:
    """(the distinct returned values, in order of first return; for each graph output, the
    index of its value among them): ``main``'s output parameters and how results map to them.
    The outputs ``graph.written`` pairs with inputs are left out: ``main`` writes them into
    those inputs' memory."""
    values: list = []
    index: dict[int, int] = {}
    order = []
    into_inputs = {o for o, _ in graph.written}
    for a in (a for o, a in enumerate(graph.outputs) if o not in into_inputs):
        if id(a) not in index:
            index[id(a)] = len(values)
            values.append(a)
        order.append(index[id(a)])
    return values, tuple(order)


def check_runnable(graph: Graph, module) -> None:
    """Raise IRError naming the first binding of ``graph`` (or of a loop body or branch in
    it) that ``main`` cannot run."""
    defined = {id(v) for v in graph.inputs}
    returned = {id(a) for a in graph.outputs}
    for n, b in enumerate(graph.bindings):
        where = f"graph {graph.name!r}, binding {n} ({b.describe()})"
        if b.op not in RUNNABLE:
            raise IRError(f"{where}: a graph's main runs only {', '.join(RUNNABLE)} bindings, got "
                          f"{b.op!r}; lower the graph first (mlc.build of a graph module, or "
                          "mlc.passes.graph.run_graph_passes)")
        for a in b.args:
            if isinstance(a, Var) and id(a) not in defined:
                raise IRError(f"{where}: argument {a.name} is used before it is defined")
            if not isinstance(a, (Var, Constant)):
                raise IRError(f"{where}: argument {a!r} is not a graph value (Var or Constant)")
        if b.op == "view" and returned.intersection(map(id, b.outputs)):
            raise IRError(f"{where}: the graph returns a view; every result is a fresh array, so "
                          "compute it with a kernel (reshape_to_view leaves returned reshapes alone)")
        if b.op != "view":
            storage = b.attr("storage")
            if storage is None or len(storage) != len(b.outputs):
                raise IRError(f"{where}: its results have no memory plan (no 'storage' attribute "
                              f"for each of its {len(b.outputs)} result(s)); run "
                              "mlc.passes.graph.plan_memory(graph) first")
            bad = [s for s in storage if s is not None and not 0 <= s < len(graph.storages)]
            if bad:
                raise IRError(f"{where}: storage {bad[0]} is not one of the graph's "
                              f"{len(graph.storages)} planned storages; rerun plan_memory")
        if b.op == "call_tir" and b.attr("func") not in module:
            raise IRError(f"{where}: the graph's module has no function {b.attr('func')!r}; it has "
                          f"{sorted(module)}")
        if is_control(b):
            check_control(b)
            for body in bodies(b):
                check_runnable(body, module)
        if b.op == "call_dps_packed" and b.attr("func") not in list_funcs():
            raise IRError(f"{where}: no library function is registered as {b.attr('func')!r}; "
                          f"register it with mlc.register_func({b.attr('func')!r}, fn) first")
        defined.update(id(v) for v in b.outputs)
    for a in graph.outputs:
        if isinstance(a, Var) and id(a) not in defined:
            raise IRError(f"graph {graph.name!r}: output {a.name} is never defined")


def _free_name(name: str, module) -> str:
    return unique_name(name if name.isidentifier() else "main", set(module))


def _buffer(value, name: str) -> Buffer:
    return decl_buffer(value.shape, value.dtype, name)


def _main(graph: Graph, module) -> tuple[PrimFunc, dict[str, PrimFunc]]:
    params = []
    env: dict[int, Buffer] = {}   # graph input or constant -> the parameter naming it
    for v in graph.inputs:
        env[id(v)] = _buffer(v, v.name)
        params.append(env[id(v)])
    constants = all_constants(graph)
    for n, c in enumerate(constants):
        env[id(c)] = _buffer(c, f"c{n}")
        params.append(env[id(c)])
    returned, _ = main_outputs(graph)
    outputs = [_buffer(v, v.name if isinstance(v, Var) else "out") for v in returned]
    emitter = _Emitter(module, {id(c): env[id(c)] for c in constants})
    emitter.root.update((id(b), b) for b in [*params, *outputs])
    inits = []
    for n, c in enumerate(_every_constant(graph)):
        if made_in_main(c):  # stored by main itself: a call binds no constant for it
            env[id(c)] = emitter.constants[id(c)] = emitter.alloc(_buffer(c, f"k{n}"))
            inits.append(BufferStore(emitter.root[id(env[id(c)])], const(c.data.item(), c.dtype),
                                     (const(0, "int32"),)))
    # an input the graph writes receives its new value in its own memory (Graph.written)
    written = [(graph.outputs[o], env[id(graph.inputs[k])]) for o, k in graph.written]
    body = inits + emitter.graph(graph, env, list(zip(returned, outputs)) + written)
    stmt = seq(*emitter.decls, *body)
    for buf in reversed(emitter.allocs):
        stmt = Allocate(buf, stmt)
    attrs = ((GRAPH_MAIN_ATTR, (len(graph.inputs), len(constants))), ("tir.noalias", False))
    updated = {name: module[name].with_attr(MAY_ALIAS, tuple(sorted(pairs))) for name, pairs in emitter.aliased.items()}
    return PrimFunc(tuple(params + outputs), stmt, attrs), {**emitter.copies, **updated}


#: The dtypes of the 0-d constants ``main`` stores into buffers of its own (:func:`made_in_main`).
_MAIN_SCALARS = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                           "float32", "float64"})


def made_in_main(c: Constant) -> bool:
    """Whether ``main`` makes constant ``c`` itself (a 0-d number a kernel takes as an argument:
    a loop's bounds, a carry's first value): stored into a one-element buffer of its own, so
    that a call binds no constants (the call's fast entry takes only the arguments)."""
    return c.data.ndim == 0 and c.data.dtype.name in _MAIN_SCALARS


def all_constants(graph: Graph) -> list[Constant]:
    """The constants ``main`` takes as parameters, after the graph's inputs: those of
    ``graph`` and of the bodies of its loops and branches, in order of first use, each once,
    but those it makes itself (:func:`made_in_main`)."""
    return [c for c in _every_constant(graph) if not made_in_main(c)]


def _every_constant(graph: Graph) -> list[Constant]:
    seen: dict[int, Constant] = {}
    stack = [graph]
    while stack:
        g = stack.pop()
        for c in g.constants():
            seen.setdefault(id(c), c)
        for b in reversed(g.bindings):
            if is_control(b):
                stack.extend(reversed(bodies(b)))
    return list(seen.values())


class _Emitter:
    """Writes graphs as ``main``'s statements. Every buffer a graph needs is allocated once
    for the whole call (``allocs``, around main's body), also those of loop bodies: a loop
    allocates nothing per iteration."""

    def __init__(self, module, constants: dict[int, Buffer]):
        self.copies: dict[str, PrimFunc] = {}
        #: kernel name -> the (input, output) parameters main passes one memory (MAY_ALIAS)
        self.aliased: dict[str, set] = {}
        self.module = module
        self.taken = set(module)
        self.constants = constants
        self.allocs: list[Buffer] = []
        self.decls: list[Stmt] = []  # the allocated buffers of other shapes than flat
        self.root: dict[int, Buffer] = {}  # buffer -> the parameter or Allocate whose memory it names

    def alloc(self, buffer: Buffer) -> Buffer:
        """``buffer``, allocated for the whole call: a flat Allocate (as backends allocate),
        which a buffer of another shape names through a DeclBuffer at main's top."""
        if len(buffer.shape) == 1:
            self.allocs.append(buffer)
            self.root[id(buffer)] = buffer
            return buffer
        flat = decl_buffer((_count(buffer.shape),), buffer.dtype, f"{buffer.name}_data")
        self.allocs.append(flat)
        self.decls.append(DeclBuffer(buffer, flat))
        self.root[id(buffer)] = self.root[id(flat)] = flat
        return buffer

    def graph(self, graph: Graph, env: dict[int, Buffer], results: list[tuple]) -> list[Stmt]:
        """Statements computing ``graph`` on the buffers ``env`` holds for its inputs and
        constants, leaving each ``(value, buffer)`` of ``results`` in its buffer.

        A result computed by a kernel is written straight into its buffer, unless that
        buffer is the memory of an input read at or after that kernel (a loop's carry read
        after its next value is made): then it is made aside and copied at the end."""
        buffers = {**self.constants, **env}
        storages = [self.alloc(decl_buffer((s.size,), s.dtype, f"storage{k}"))
                    for k, s in enumerate(graph.storages)]
        direct = self._direct(graph, env, results)
        body: list[Stmt] = []
        for b in graph.bindings:
            if b.op == "view":
                (src,), (view,) = b.args, b.outputs
                data = buffers[id(src)]
                buffers[id(view)] = _buffer(view, view.name)
                body.append(DeclBuffer(buffers[id(view)], self.root.get(id(data), data)))
                self.root[id(buffers[id(view)])] = self.root.get(id(data), data)
                continue
            alias = dict(aliases(b))
            for o, (v, s) in enumerate(zip(b.outputs, b.attr("storage"))):
                if id(v) in direct:
                    buffers[id(v)] = direct[id(v)]
                elif o in alias:  # an in-place output in its argument's memory (plan_memory)
                    buffers[id(v)] = buffers[id(b.args[alias[o]])]
                elif s is None:
                    buffers[id(v)] = self.alloc(_buffer(v, v.name))
                else:
                    buffers[id(v)] = _buffer(v, v.name)
                    body.append(DeclBuffer(buffers[id(v)], storages[s]))
                    self.root[id(buffers[id(v)])] = storages[s]
            if b.op == "call_tir":  # a kernel plan_memory let write into an input it reads pointwise
                for o, k in set(alias.items()) - set(inplace_pairs(b)):
                    self.aliased.setdefault(b.attr("func"), set()).add((k, len(b.args) + o))
            for o, k in inplace_pairs(b):  # the kernel updates its output: it must hold the argument first
                src, dst = buffers[id(b.args[k])], buffers[id(b.outputs[o])]
                if self.root.get(id(src), src) is not self.root.get(id(dst), dst):
                    body.append(self.copy(src, dst))
            if is_control(b):
                body.extend(self.control(b, buffers))
                continue
            base = self._region_base(b)
            if base is not None:  # the result outside the region the kernel writes: its base
                src, dst = buffers[id(base)], buffers[id(b.outputs[0])]
                if self.root.get(id(src), src) is not self.root.get(id(dst), dst):
                    body.append(self.copy(src, dst))
            call = CallPrimFunc if b.op == "call_tir" else CallPacked
            body.append(call(b.attr("func"), tuple(buffers[id(a)] for a in b.args + b.outputs)))
        return body + self._tail(buffers, results, direct)

    def _direct(self, graph: Graph, env: dict[int, Buffer], results: list[tuple]) -> dict[int, Buffer]:
        """The results a kernel may write straight into their buffers: value -> buffer."""
        made_at = {id(v): n for n, b in enumerate(graph.bindings) if b.op != "view" for v in b.outputs}
        root: dict[int, int] = {}  # a view, or an output in its argument's memory -> whose memory
        last_read: dict[int, float] = {}
        own: dict[int, int] = {}  # value -> the region write that reads it last, as its result's base
        for n, b in enumerate(graph.bindings):
            for a in b.args:
                last_read[root.get(id(a), id(a))] = n
            base = self._region_base(b)
            if base is not None and sum(a is base for a in b.args) == 1:
                own[root.get(id(base), id(base))] = n
            if b.op == "view":
                root[id(b.outputs[0])] = root.get(id(b.args[0]), id(b.args[0]))
            for o, k in aliases(b):
                root[id(b.outputs[o])] = root.get(id(b.args[k]), id(b.args[k]))
        memory, held = {}, {}
        for v in graph.inputs:
            buf = env.get(id(v))
            if buf is not None:
                memory.setdefault(id(self.root.get(id(buf), buf)), []).append(id(v))
                held[id(v)] = id(self.root.get(id(buf), buf))
        in_place = set()  # results already in their target's memory: an input's, written in place
        for a, target in results:
            if id(a) in root and id(a) in made_at:
                if held.get(root[id(a)]) == id(self.root.get(id(target), target)):
                    in_place.add(id(a))
        for a, _ in results:  # a result copied at the end reads its value then
            if (id(a) not in made_at or id(a) in root) and id(a) not in in_place:
                last_read[root.get(id(a), id(a))] = float("inf")
        direct: dict[int, Buffer] = {}
        for a, target in results:
            n = made_at.get(id(a))
            if n is None or id(a) in direct:
                continue
            if id(a) in root:  # in its argument's memory: there already, or copied at the end
                if id(a) in in_place:
                    direct[id(a)] = target
                continue
            readers = memory.get(id(self.root.get(id(target), target)), [])
            # a region write may write into its base's memory: it reads nothing else of it;
            # a kernel may write into the memory of an input it reads element by element
            b = graph.bindings[n]
            shared = [r for r in readers if last_read.get(r, -1) == n and own.get(r) != n]
            if all(last_read.get(r, -1) <= n for r in readers) and all(self._pointwise(b, a, r, root) for r in shared):
                direct[id(a)] = target
                for r in shared:  # the kernel runs with its output in the memory of that input
                    self.may_alias(b, a, r, root)
        return direct

    def _pointwise(self, b, result, memory: int, root: dict[int, int]) -> bool:
        """Whether call ``b`` may write its output ``result`` into ``memory`` (a value's id)
        that it reads: each argument in that memory read element by element, at the indices
        of the output's element (:func:`~.pointwise.pointwise_update`)."""
        pairs = self._shared_pairs(b, result, memory, root)
        if not pairs:
            return False
        func = self.module[b.attr("func")]
        return all(pointwise_update(func, k, out) for k, out in pairs)

    def _shared_pairs(self, b, result, memory: int, root: dict[int, int]) -> list[tuple[int, int]]:
        """(argument, output) parameter positions of call ``b`` whose argument is in ``memory``
        and whose output is ``result``; none where ``b`` calls no kernel of the module."""
        if b.op != "call_tir" or b.attr("func") not in self.module:
            return []
        out = len(b.args) + next(o for o, v in enumerate(b.outputs) if v is result)
        return [(k, out) for k, a in enumerate(b.args) if root.get(id(a), id(a)) == memory]

    def may_alias(self, b, result, memory: int, root: dict[int, int]) -> None:
        """Record that call ``b`` runs with its output ``result`` in ``memory``, which it reads
        (the kernel's :data:`~mlc.ir.calls.MAY_ALIAS`, set by :func:`emit_main`)."""
        self.aliased.setdefault(b.attr("func"), set()).update(self._shared_pairs(b, result, memory, root))

    def _region_base(self, b):
        """The operand whose memory region-write binding ``b`` may write its result into (main
        copies the operand into the result first where the result's buffer is another memory;
        :data:`~mlc.ops.hand_written.REGION_WRITE`), or None where ``b`` is no region write."""
        if b.op != "call_tir":
            return None
        name = b.attr("func")
        func = self.module[name] if isinstance(name, str) and name in self.module else None
        k = func.attr(REGION_WRITE) if func is not None else None
        return None if k is None else b.args[k]

    def _tail(self, buffers: dict[int, Buffer], results: list[tuple], direct) -> list[Stmt]:
        """Copies of the results not written in place. A copy whose source is the memory of
        another result's buffer reads it into a temporary first (a loop that swaps carries)."""
        targets = {id(self.root.get(id(t), t)) for _, t in results}
        first, second = [], []
        for a, target in results:
            src = buffers[id(a)]
            if direct.get(id(a)) is target or src is target:
                continue
            if id(self.root.get(id(src), src)) in targets:
                temp = self.alloc(_buffer(a, f"{target.name}_next"))
                first.append(self.copy(src, temp))
                src = temp
            second.append(self.copy(src, target))
        return first + second

    def copy(self, src: Buffer, dst: Buffer) -> Stmt:
        return CallPrimFunc(_copy_kernel(dst.shape, dst.dtype, self.copies, self.taken), (src, dst))

    def scalar(self, atom, buffers: dict[int, Buffer], body: list[Stmt]) -> PrimExpr:
        """The value of 0-d ``atom`` as an expression: a constant's value, or a load of its
        buffer (through a ``(1,)`` view of its memory, declared in ``body``)."""
        if isinstance(atom, Constant):
            return const(atom.data.item(), atom.dtype)
        src = buffers[id(atom)]
        flat = decl_buffer((1,), atom.dtype, f"{src.name}_value")
        body.append(DeclBuffer(flat, self.root.get(id(src), src)))
        return BufferLoad(flat, (const(0, "int32"),), atom.dtype)

    def control(self, b, buffers: dict[int, Buffer]) -> list[Stmt]:
        """``main``'s statements for loop or conditional ``b`` (:mod:`mlc.ir.control`)."""
        results = [buffers[id(v)] for v in b.outputs]
        body: list[Stmt] = []
        if b.op == "switch":
            index, *operands = b.args
            cases = []
            for g in b.attr("branches"):
                env = {id(v): buffers[id(a)] for v, a in zip(g.inputs, operands)}
                cases.append(seq(*self.graph(g, env, list(zip(g.outputs, results)))))
            if isinstance(index, Constant):
                k = int(index.data.item())
                return [cases[min(max(k, 0), len(cases) - 1)]]
            value = self.scalar(index, buffers, body)
            if index.dtype == "bool":
                value = Cast("int32", value)
            stmt = cases[-1]
            for k in reversed(range(len(cases) - 1)):
                stmt = IfThenElse(value <= const(k, value.dtype), cases[k], stmt)
            return body + [stmt]
        n = b.attr("num_carry")
        lead = b.args[:2] if b.op == "for_loop" else ()
        init, captured = b.args[len(lead):len(lead) + n], b.args[len(lead) + n:]
        for a, c in zip(init, results):
            if buffers[id(a)] is not c:
                body.append(self.copy(buffers[id(a)], c))
        outer = [buffers[id(a)] for a in captured]
        loop = b.attr("body")
        # carries whose next value a kernel makes while the old one is still read (u = f(u)):
        # two buffers each, the iterations alternating between them (no copy per iteration)
        first = [index_buffer] if (index_buffer := self._index_buffer(b)) is not None else []
        env = {id(v): x for v, x in zip(loop.inputs, [*first, *results, *outer])}
        swapped = self._swapped(loop, env, results)
        other = [self.alloc(decl_buffer(c.shape, c.dtype, f"{c.name}_next")) if k in swapped else c
                 for k, c in enumerate(results)]

        def half(carries, targets) -> list[Stmt]:
            env = {id(v): x for v, x in zip(loop.inputs, [*first, *carries, *outer])}
            return self.graph(loop, env, list(zip(loop.outputs, targets)))

        def settle() -> list[Stmt]:  # the carries that are in their other buffers, moved back
            return [self.copy(other[k], results[k]) for k in swapped]

        if swapped and _has_loops(loop):
            # a body with loops inside runs once a trip, its swapped carries copied back after it:
            # written out two or three times a level, a nest's main would grow threefold per level
            moved = list(swapped)

            def once(carries, targets, both=half) -> list[Stmt]:
                return both(results, other) + [self.copy(other[k], results[k]) for k in moved]
            half, swapped = once, []
        if b.op == "for_loop":
            return body + self._for_loop(b, buffers, index_buffer, half, results, other, bool(swapped), settle)
        return body + self._while_loop(b, results, other, outer, half, bool(swapped), settle)

    def _index_buffer(self, b) -> Buffer | None:
        """The 0-d buffer a for loop's body reads its index from (None for a while loop)."""
        if b.op != "for_loop":
            return None
        return self.alloc(decl_buffer((), b.args[0].dtype, "i"))

    def _swapped(self, loop: Graph, env: dict[int, Buffer], results: list[Buffer]) -> list[int]:
        """The carries of ``loop`` whose next value a kernel cannot write in place."""
        made = {id(v) for b in loop.bindings if b.op != "view" for v in b.outputs}
        direct = self._direct(loop, env, list(zip(loop.outputs, results)))
        return [k for k, a in enumerate(loop.outputs) if id(a) in made and id(a) not in direct
                and all(a is not o for o in loop.outputs[:k])]

    def _for_loop(self, b, buffers, index, half, results, other, swapped: bool, settle) -> list[Stmt]:
        """``for i in range(lower, upper)``: the body once per iteration, or, with swapped
        carries, twice per iteration of a loop of half the trip count (the first from the
        carries' buffers into their others, the second back), an odd last iteration after it."""
        lower, upper = b.args[:2]
        body: list[Stmt] = []
        flat = decl_buffer((1,), lower.dtype, "i_value")
        body.append(DeclBuffer(flat, index))
        lo, hi = self.scalar(lower, buffers, body), self.scalar(upper, buffers, body)
        static = isinstance(lo, IntImm) and isinstance(hi, IntImm)
        n = const(hi.value - lo.value, lower.dtype) if static else hi - lo
        var = TirVar("i", lower.dtype)

        def at(i) -> Stmt:
            return BufferStore(flat, i, (const(0, "int32"),))

        if not swapped:
            return body + [For(var, lo, n, "serial", seq(at(var), *half(results, results)))]
        two = const(2, lower.dtype)
        pairs = const(max(n.value, 0) // 2, lower.dtype) if static else n // two
        i = lo + var * two
        loop = For(var, const(0, lower.dtype), pairs, "serial",
                   seq(at(i), *half(results, other), at(i + const(1, lower.dtype)), *half(other, results)))
        last = seq(at(hi - const(1, lower.dtype)), *half(results, other), *settle())
        if static:
            return body + [loop] + ([last] if n.value > 0 and n.value % 2 else [])
        odd = IfThenElse(n > const(0, lower.dtype), IfThenElse(n % two == const(1, lower.dtype), last))
        return body + [loop, odd]

    def _while_loop(self, b, results, other, outer, half, swapped: bool, settle) -> list[Stmt]:
        """``while cond(carry): carry = body(carry)``; with swapped carries each iteration of
        the loop runs the body twice (there and back), testing the condition in between."""
        cond = b.attr("cond")
        flag = self.alloc(decl_buffer((), "bool", "go"))

        def test(carries) -> list[Stmt]:
            env = {id(v): x for v, x in zip(cond.inputs, [*carries, *outer])}
            return self.graph(cond, env, [(cond.outputs[0], flag)])

        flat = decl_buffer((1,), "bool", "go_value")
        go = BufferLoad(flat, (const(0, "int32"),), "bool")
        head = test(results) + [DeclBuffer(flat, flag)]
        if not swapped:
            return head + [While(go, seq(*half(results, results), *test(results)))]
        back = IfThenElse(go, seq(*half(other, results), *test(results)), seq(*settle()))
        return head + [While(go, seq(*half(results, other), *test(other), back))]


def _has_loops(g: Graph) -> bool:
    """Whether graph ``g`` runs a loop (its own bindings, or a conditional's branches)."""
    stack = [g]
    while stack:
        for b in stack.pop().bindings:
            if b.op in ("for_loop", "while_loop"):
                return True
            if b.op == "switch":
                stack.extend(b.attr("branches"))
    return False


def _count(shape) -> PrimExpr | int:
    """How many elements an array of ``shape`` (extents that may be symbolic) holds."""
    if all(isinstance(e, IntImm) for e in shape):
        size = 1
        for e in shape:
            size *= e.value
        return size
    extents = [e if e.dtype == "int64" else Cast("int64", e) for e in shape]
    size = extents[0]
    for e in extents[1:]:
        size = size * e
    return size


def _copy_kernel(shape, dtype: str, copies: dict[str, PrimFunc], taken: set[str]) -> str:
    """The name of a kernel copying an array of ``shape`` and ``dtype`` (made once per dtype
    and static shape; each symbolic extent is a size of the kernel's own)."""
    pattern = tuple(e.value if isinstance(e, IntImm) else e.dtype for e in shape)  # a size: its dtype
    for name, func in copies.items():
        p = func.params[0]
        if p.dtype == dtype and tuple(e.value if isinstance(e, IntImm) else e.dtype for e in p.shape) == pattern:
            return name
    extents = [e if isinstance(e, int) else TirVar(f"n{k}", e) for k, e in enumerate(pattern)]
    src = te.placeholder(extents, dtype, "src")
    dst = te.compute(extents, lambda *i: src[i] if i else src[()], name="dst")
    name = unique_name("copy", taken)
    taken.add(name)
    copies[name] = te.create_prim_func([src, dst])
    return name
