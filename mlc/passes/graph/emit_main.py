"""The graph's program as IR: a PrimFunc ``main`` that allocates the workspace and calls the kernels.

The last graph pass. A memory-planned graph of ``call_tir``,
``call_dps_packed`` and ``view`` bindings becomes one more PrimFunc of its
module, named like the graph, which every backend compiles like any other
function (the llvm backend into one native entry point, the reference
backend by interpreting it):

- parameters: the graph inputs, then its constants (the caller binds them
  once), then one buffer per distinct returned value (the caller allocates
  them for each call: every result is a fresh array);
- one ``Allocate`` per planned storage; each intermediate value is a
  :class:`~mlc.ir.calls.DeclBuffer` of its storage, and a ``view`` binding a
  ``DeclBuffer`` of the memory it views: no copy;
- each ``call_tir`` is a :class:`~mlc.ir.calls.CallPrimFunc`, each
  ``call_dps_packed`` a :class:`~mlc.ir.calls.CallPacked`;
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

from ...errors import IRError
from ...ir import te
from ...ir.buffer import Buffer, decl_buffer
from ...ir.calls import GRAPH_MAIN_ATTR, CallPacked, CallPrimFunc, DeclBuffer, is_graph_main
from ...ir.expr import PrimExpr
from ...ir.graph import Constant, Graph, Var
from ...ir.te import unique_name
from ...ir.tir import Allocate, IRModule, PrimFunc, seq
from ...runtime.packed import list_funcs

__all__ = ["emit_main", "main_name", "main_outputs", "check_runnable", "RUNNABLE"]

#: The binding forms a graph's main runs.
RUNNABLE = ("call_tir", "call_dps_packed", "view")


def emit_main(graph: Graph) -> Graph:
    """``graph`` with its ``main`` PrimFunc (named ``graph.name``) added to ``graph.module``.
    A graph whose inputs have symbolic dimensions (``@mlc.jit(dynamic=...)``) is returned as
    it is: its sizes are known only per call, and its kernels are called one by one
    (:mod:`mlc.runtime.symbolic_executor`)."""
    if any(isinstance(d, PrimExpr) for v in graph.inputs for d in v.shape):
        return graph
    module = graph.module if graph.module is not None else IRModule({})
    check_runnable(graph, module)
    name = _free_name(graph.name, module)
    func, copies = _main(graph, module)
    module = IRModule({**module, **copies, name: func})
    return graph.with_bindings(graph.bindings, module=module)


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
    index of its value among them): ``main``'s output parameters and how results map to them."""
    values: list = []
    index: dict[int, int] = {}
    order = []
    for a in graph.outputs:
        if id(a) not in index:
            index[id(a)] = len(values)
            values.append(a)
        order.append(index[id(a)])
    return values, tuple(order)


def check_runnable(graph: Graph, module) -> None:
    """Raise IRError naming the first binding of ``graph`` that ``main`` cannot run."""
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
    buffers: dict[int, Buffer] = {}   # graph value -> the buffer main names it by
    params = []
    for v in graph.inputs:
        buffers[id(v)] = _buffer(v, v.name)
        params.append(buffers[id(v)])
    constants = graph.constants()
    for n, c in enumerate(constants):
        buffers[id(c)] = _buffer(c, f"c{n}")
        params.append(buffers[id(c)])
    returned, _ = main_outputs(graph)
    copies: dict[str, PrimFunc] = {}
    taken = set(module)
    outputs, tail = [], []
    for v in returned:
        out = _buffer(v, v.name if isinstance(v, Var) else "out")
        outputs.append(out)
        if id(v) in buffers:  # an input or constant returned: copied into a fresh output
            tail.append(CallPrimFunc(_copy_kernel(v, copies, taken), (buffers[id(v)], out)))
        else:
            buffers[id(v)] = out
    storages = [decl_buffer((s.size,), s.dtype, f"storage{k}") for k, s in enumerate(graph.storages)]
    body, extra = [], []   # extra: results neither returned nor planned (allocated on their own)
    root: dict[int, Buffer] = {id(b): b for b in [*params, *outputs]}  # buffer -> memory it names
    for b in graph.bindings:
        if b.op == "view":
            (src,), (view,) = b.args, b.outputs
            data = buffers[id(src)]
            buffers[id(view)] = _buffer(view, view.name)
            body.append(DeclBuffer(buffers[id(view)], root.get(id(data), data)))
            root[id(buffers[id(view)])] = root.get(id(data), data)
            continue
        for v, s in zip(b.outputs, b.attr("storage")):
            if id(v) in buffers:  # a returned value: its output parameter
                continue
            buffers[id(v)] = _buffer(v, v.name)
            if s is None:
                extra.append(buffers[id(v)])
            else:
                body.append(DeclBuffer(buffers[id(v)], storages[s]))
                root[id(buffers[id(v)])] = storages[s]
        args = tuple(buffers[id(a)] for a in b.args + b.outputs)
        call = CallPrimFunc if b.op == "call_tir" else CallPacked
        body.append(call(b.attr("func"), args))
    stmt = seq(*body, *tail)
    for buf in reversed([*storages, *extra]):
        stmt = Allocate(buf, stmt)
    attrs = ((GRAPH_MAIN_ATTR, (len(graph.inputs), len(constants))), ("tir.noalias", False))
    return PrimFunc(tuple(params + outputs), stmt, attrs), copies


def _copy_kernel(value, copies: dict[str, PrimFunc], taken: set[str]) -> str:
    """The name of a kernel copying an array of ``value``'s type (made once per type)."""
    for name, func in copies.items():
        p = func.params[0]
        if p.dtype == value.dtype and p.static_shape() == tuple(value.shape):
            return name
    src = te.placeholder(value.shape, value.dtype, "src")
    dst = te.compute(value.shape, lambda *i: src[i] if i else src[()], name="dst")
    name = unique_name("copy", taken)
    taken.add(name)
    copies[name] = te.create_prim_func([src, dst])
    return name
