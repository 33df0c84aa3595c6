"""Run a lowered graph: one precomputed, straight-line Python function over the kernels.

The executor is generated once per compiled graph as Python source (see
``executor.source``): unpack the inputs, allocate the returned arrays, call
each kernel with its arguments, return. Intermediate results live in the
planned storages of a per-thread workspace (allocated on a thread's first
call), so concurrent calls from several threads never share scratch memory,
and a call allocates only its outputs.

When the backend exposes a kernel's C entry point (llvm), kernels are called
with raw data pointers: constants' and workspace pointers are computed once,
inputs' and outputs' once per call. When the module was also built with the
graph's :func:`graph_program` (as ``mlc.jit`` builds it for llvm), the whole
graph is one native call of that program. Otherwise each kernel gets the
arrays (and with ``MLC_DEBUG`` every call checks them against its PrimFunc).

``call_dps_packed`` bindings call a registered Python library function
(:mod:`mlc.runtime.packed`) with arrays. When the module holds the graph's
program, the native program calls them back (:mod:`mlc.runtime.callbacks`):
the graph is still one native call. Otherwise the executor calls them between
the kernel calls, which then run one Python-level call at a time (arrays mode).

The executor checks the graph first: a binding it cannot run (an op the graph
pipeline did not lower, a result without a storage plan, a kernel the module
lacks, a value used before it is defined) raises IRError naming the binding.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from ..config import config
from ..errors import IRError
from ..ir.graph import Constant, Graph, Var
from ..tracer.pytree import unflatten
from .callbacks import CallbackTable
from .module import Module
from .packed import get_func, list_funcs
from .pointers import data_pointer

#: ``out_tree`` meaning "return a list of the outputs".
LEAF_LIST = None

__all__ = ["GraphExecutor", "data_pointer", "native_entry", "graph_program", "PROGRAM"]

#: The name of the graph's program in a module built by ``mlc.jit``.
PROGRAM = "graph"



def native_entry(function):
    """The C function behind a built module function, if its backend exposes one (else None)."""
    return function.native


def graph_program(graph: Graph):
    """(program, slot values): the graph's kernel calls as a
    :class:`~mlc.backends.program.Program` (library calls as its callbacks), and
    the graph value behind each slot (a view shares its source's slot)."""
    from ..backends.program import Program
    source: dict[int, object] = {}
    slots: list = []
    index: dict[int, int] = {}
    calls = []
    for b in graph.bindings:
        if b.op == "view":
            (src,), (view,) = b.args, b.outputs
            source[id(view)] = source.get(id(src), src)
            continue
        args = []
        for v in b.args + b.outputs:
            v = source.get(id(v), v)
            if id(v) not in index:
                index[id(v)] = len(slots)
                slots.append(v)
            args.append(index[id(v)])
        calls.append((None if b.op == "call_dps_packed" else b.attr("func"), tuple(args)))
    return Program(len(slots), tuple(calls)), slots


#: The binding forms an executor runs.
RUNNABLE = ("call_tir", "call_dps_packed", "view")


def check_runnable(graph: Graph, lib: Module) -> None:
    """Raise IRError naming the first binding of ``graph`` the executor cannot run."""
    defined = {id(v) for v in graph.inputs}
    for n, b in enumerate(graph.bindings):
        where = f"graph {graph.name!r}, binding {n} ({b.describe()})"
        if b.op not in RUNNABLE:
            raise IRError(f"{where}: the executor runs only {', '.join(RUNNABLE)} bindings, got "
                          f"{b.op!r}; lower the graph first (mlc.build of a graph module, or "
                          "mlc.passes.graph.run_graph_passes)")
        for a in b.args:
            if isinstance(a, Var) and id(a) not in defined:
                raise IRError(f"{where}: argument {a.name} is used before it is defined")
            if not isinstance(a, (Var, Constant)):
                raise IRError(f"{where}: argument {a!r} is not a graph value (Var or Constant)")
        if b.op != "view":
            storage = b.attr("storage")
            if storage is None or len(storage) != len(b.outputs):
                raise IRError(f"{where}: its results have no memory plan (no 'storage' attribute "
                              f"for each of its {len(b.outputs)} result(s)); run "
                              "mlc.passes.graph.plan_memory(graph) before GraphExecutor")
            bad = [s for s in storage if s is not None and not 0 <= s < len(graph.storages)]
            if bad:
                raise IRError(f"{where}: storage {bad[0]} is not one of the graph's "
                              f"{len(graph.storages)} planned storages; rerun plan_memory")
        if b.op == "call_tir" and b.attr("func") not in lib:
            raise IRError(f"{where}: the built module has no function {b.attr('func')!r}; it has "
                          f"{lib.function_names}")
        if b.op == "call_dps_packed":
            if b.attr("func") not in list_funcs():
                raise IRError(f"{where}: no library function is registered as {b.attr('func')!r}; "
                              f"register it with mlc.register_func({b.attr('func')!r}, fn) first")
        defined.update(id(v) for v in b.outputs)
    for a in graph.outputs:
        if isinstance(a, Var) and id(a) not in defined:
            raise IRError(f"graph {graph.name!r}: output {a.name} is never defined")


class GraphExecutor:
    """``executor(inputs) -> outputs`` for a memory-planned graph of ``call_tir`` (and
    ``view``) bindings.

    ``inputs`` are NumPy arrays of the graph inputs' shapes and dtypes (any
    memory layout). ``program`` names the graph's program in ``lib``, if it has one. The result is a list with one array per graph output,
    or, given ``out_tree`` (a pytree definition), that pytree of them.
    """

    def __init__(self, graph: Graph, lib: Module, out_tree=LEAF_LIST, program: str = PROGRAM):
        self.graph = graph
        self.lib = lib
        self.out_tree = out_tree
        check_runnable(graph, lib)
        kernels = {}
        self._packed: dict[str, object] = {}
        for b in graph.bindings:
            if b.op == "call_tir":
                kernels.setdefault(b.attr("func"), lib[b.attr("func")])
            elif b.op == "call_dps_packed":
                self._packed.setdefault(b.attr("func"), get_func(b.attr("func")))
        entries = {name: native_entry(fn) for name, fn in kernels.items()}
        native = all(e is not None for e in entries.values())
        # library calls need arrays, unless the native program calls them back
        self._program = lib.program(program) if native and not config().debug else None
        if config().debug:  # every call checks its arrays against the PrimFunc
            self.mode, self._kernels = "checked", kernels
        elif native and (self._program is not None or not self._packed):
            self.mode, self._kernels = "native", entries
        else:
            self.mode, self._kernels = "arrays", {name: fn.kernel for name, fn in kernels.items()}
        self.native = self.mode == "native"
        if not self.native:
            self._program = None
        self._callbacks = None
        if self._program is not None:
            self.mode = "program"
            if self._packed:
                self._callbacks = CallbackTable(self, [
                    (self._packed[b.attr("func")], [(v.shape, v.dtype) for v in b.args + b.outputs])
                    for b in graph.bindings if b.op == "call_dps_packed"])
        self._local = threading.local()
        self.source = self._generate()
        namespace = self._namespace()
        exec(compile(self.source, f"<mlc executor {graph.name}>", "exec"), namespace)  # noqa: S102
        #: ``run(inputs)``: the generated function (``executor(inputs)`` calls it).
        self.run = namespace["run"]

    # ---------------------------------------------------------- workspace

    def _intermediates(self) -> list[tuple[Var, int]]:
        """(value, storage index) of every planned intermediate, in binding order."""
        out = []
        for b in self.graph.bindings:
            for v, s in zip(b.outputs, b.attr("storage") or ()):
                if s is not None:
                    out.append((v, s))
        return out

    def _workspace(self) -> list:
        """This thread's views (or pointers) of the planned storages, made on first use."""
        ws = getattr(self._local, "ws", None)
        if ws is None:
            storages = [np.empty(s.size, s.dtype) for s in self.graph.storages]
            views = [storages[s][:v.type.size].reshape(v.shape) for v, s in self._intermediates()]
            ws = [data_pointer(a) for a in views] if self.native else views
            self._local.ws = ws
            self._local.keep = storages
        return ws

    # ------------------------------------------------------------- codegen

    def _namespace(self) -> dict:
        ns = {"np": np, "_ptr": data_pointer, "_workspace": self._workspace,
              "_contig": np.ascontiguousarray, "_unflatten": unflatten, "_tree": self.out_tree}
        for n, name in enumerate(self._kernel_names):
            ns[f"_k{n}"] = self._kernels[name]
        for n, name in enumerate(self._packed_names):
            ns[f"_f{n}"] = self._packed[name]
        if self._program is not None:
            ns["_program"] = self._program
        if self._callbacks is not None:
            ns["_callbacks"] = self._callbacks
        for n, c in enumerate(self._constants):
            array = np.ascontiguousarray(c.data)
            ns[f"_c{n}"] = data_pointer(array) if self.native else array
            ns[f"_c{n}_array"] = array
        for n, (shape, dtype) in enumerate(self._fresh_types):
            ns[f"_t{n}"] = np.dtype(dtype)
        return ns

    def _generate(self) -> str:
        """The source of ``run``; also fills the tables that :meth:`_namespace` binds
        (kernel order, constants, output types), so it runs first."""
        graph = self.graph
        names: dict[int, str] = {}
        lines = ["def run(inputs):"]
        ind = "    "
        self._kernel_names = list(self._kernels)
        self._packed_names = list(self._packed)
        self._constants = graph.constants()
        self._fresh_types = []
        for n, c in enumerate(self._constants):
            names[id(c)] = f"_c{n}"
        inputs = [f"a{n}" for n in range(len(graph.inputs))]
        if inputs:
            lines.append(ind + ", ".join(inputs) + ("," if len(inputs) == 1 else "") + " = inputs")
        used = {id(a) for b in graph.bindings for a in b.args}
        for n, v in enumerate(graph.inputs):
            if id(v) not in used:
                names[id(v)] = inputs[n]
                continue
            lines.append(ind + f"if not {inputs[n]}.flags.c_contiguous: {inputs[n]} = _contig({inputs[n]})")
            if self.native:
                lines.append(ind + f"p{n} = _ptr({inputs[n]})")
                names[id(v)] = f"p{n}"
            else:
                names[id(v)] = inputs[n]
        if graph.storages:
            lines.append(ind + "ws = _workspace()")
        arrays: dict[int, str] = {}
        for n, (v, _) in enumerate(self._intermediates()):
            names[id(v)] = f"ws[{n}]"
        for b in graph.bindings:
            for v, s in zip(b.outputs, b.attr("storage") or ()):
                if s is None:
                    k = len(self._fresh_types)
                    self._fresh_types.append((v.shape, v.dtype))
                    lines.append(ind + f"o{k} = np.empty({v.shape!r}, _t{k})")
                    arrays[id(v)] = f"o{k}"
                    if self.native:
                        lines.append(ind + f"q{k} = _ptr(o{k})")
                        names[id(v)] = f"q{k}"
                    else:
                        names[id(v)] = f"o{k}"
        if self._program is not None:  # one native call runs every kernel
            slots = graph_program(graph)[1]
            args = [names[id(v)] for v in slots]
            if self._callbacks is not None:  # library calls come back through the table
                args.append(str(self._callbacks.token))
            lines.append(ind + "_program(" + ", ".join(args) + ")")
            if self._callbacks is not None:
                lines.append(ind + "_callbacks.raise_pending()")
        for n, b in enumerate(graph.bindings):
            if self._program is not None:
                if b.op == "view":
                    names[id(b.outputs[0])] = names[id(b.args[0])]
                continue
            if b.op == "view":  # the same memory: the same pointer, or a reshaped array
                (source,), (view,) = b.args, b.outputs
                if self.native:
                    names[id(view)] = names[id(source)]
                else:
                    lines.append(ind + f"v{n} = {names[id(source)]}.reshape({view.shape!r})")
                    names[id(view)] = f"v{n}"
                continue
            args = ", ".join(names[id(a)] for a in b.args + b.outputs)
            if b.op == "call_dps_packed":  # a library function: arrays, destination passing
                k = self._packed_names.index(b.attr("func"))
                lines.append(ind + f"_f{k}({args})  # {b.attr('func')}")
                continue
            k = self._kernel_names.index(b.attr("func"))
            call = f"_k{k}(({args},))" if self.mode == "arrays" else f"_k{k}({args})"
            lines.append(ind + call + f"  # {b.attr('func')}")
        results = []
        for n, a in enumerate(graph.outputs):
            if id(a) in arrays:
                results.append(arrays[id(a)])
            elif isinstance(a, Constant):
                results.append(f"{names[id(a)]}_array.copy()")
            else:  # a graph input returned as it is: a fresh copy, like every result
                results.append(f"{inputs[graph.inputs.index(a)]}.copy()")
        if self.out_tree is LEAF_LIST:
            lines.append(ind + "return [" + ", ".join(results) + "]")
        elif type(self.out_tree) is str:  # a single array
            lines.append(ind + "return " + results[0])
        else:
            lines.append(ind + "return _unflatten(_tree, [" + ", ".join(results) + "])")
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- call

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.run(inputs)

    def __repr__(self) -> str:
        return f"<GraphExecutor {self.graph.name}: {len(self.graph.bindings)} kernel call(s)>"
