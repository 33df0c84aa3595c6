"""Relax-like text for graphs: what ``make_jaxpr`` or ``mod.show()`` would print.

Inputs keep their names; binding results are numbered ``lv0, lv1, ...`` in
order; constants print inline when they are scalars and as
``metadata["cN"]`` otherwise. A graph with fused groups prints each group as
a private ``@R.function`` before ``main``, which calls it as
``cls.fused_...``; after lowering, ``R.call_tir`` names the PrimFunc.

>>> import numpy as np
>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var, constant
>>> x = Var("x", TensorType((4,), "float32"))
>>> y = Var("y", TensorType((4,), "float32"))
>>> b = Binding((y,), "add", (x, constant(np.float32(1))))
>>> print(graph_to_str(Graph((x,), (b,), (y,))))
@R.function
def main(x: R.Tensor((4,), "float32")):
    lv0 = R.add(x, R.const(1.0, "float32"))
    return lv0
"""
from __future__ import annotations

from .graph import Binding, Constant, Graph, Var
from .names import unique_name

__all__ = ["graph_to_str", "tensor_sinfo"]

INDENT = "    "


def tensor_sinfo(t) -> str:
    """``R.Tensor((64, 128), "float32")`` for a TensorType (or Var / Constant)."""
    t = getattr(t, "type", t)
    shape = "(" + ", ".join(str(d) for d in t.shape) + ("," if len(t.shape) == 1 else "") + ")"
    return f'R.Tensor({shape}, "{t.dtype}")'


class _Names:
    """Readable, unique names for one function's values."""

    def __init__(self):
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counter = 0
        self.consts: list[Constant] = []
        self.outputs: set[int] = set()  # values named gv (a dataflow function's results)

    def define_input(self, var: Var) -> str:
        base = var.name if var.name.isidentifier() else "arg"
        name, n = base, 0
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        return self._set(var, name)

    def define_output(self, var: Var) -> str:
        """``gv``, ``gv1``, ...: a dataflow block's output."""
        n = 0
        while (f"gv{n}" if n else "gv") in self.taken:
            n += 1
        return self._set(var, f"gv{n}" if n else "gv")

    def define_local(self, var: Var) -> str:
        if id(var) in self.outputs:
            return self.define_output(var)
        while f"lv{self.counter}" in self.taken:
            self.counter += 1
        name = f"lv{self.counter}"
        self.counter += 1
        return self._set(var, name)

    def _set(self, var, name: str) -> str:
        self.names[id(var)] = name
        self.taken.add(name)
        return name

    def ref(self, atom) -> str:
        if isinstance(atom, Constant):
            if atom.data.ndim == 0:
                return f'R.const({atom.data.item()!r}, "{atom.dtype}")'
            for n, c in enumerate(self.consts):
                if c is atom:
                    return f'metadata["c{n}"]'
            self.consts.append(atom)
            return f'metadata["c{len(self.consts) - 1}"]'
        return self.names.get(id(atom), f"<free {atom.name}>")


def _attr_value(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _binding_line(b: Binding, names: _Names, fused_names: dict[int, str]) -> str:
    args = ", ".join(names.ref(a) for a in b.args)
    if b.op == "fused":
        rhs = f"cls.{fused_names[id(b)]}({args})"
    elif b.op in _CONTROL:
        rhs = f"R.{b.op}({args}, {fused_names[id(b)]})"
    elif b.op in ("call_tir", "call_dps_packed"):
        sinfo = [tensor_sinfo(v) for v in b.outputs]
        out = sinfo[0] if len(sinfo) == 1 else "[" + ", ".join(sinfo) + "]"
        tup = "(" + args + ("," if len(b.args) == 1 else "") + ")"
        func = b.attr("func") if b.op == "call_tir" else f'"{b.attr("func")}"'
        rhs = f"R.{b.op}({func}, {tup}, out_sinfo={out})"
    else:
        attrs = "".join(f", {k}={_attr_value(v)}" for k, v in b.attrs)
        rhs = f"R.{b.op}({args}{attrs})"
    lhs = ", ".join(names.define_local(v) for v in b.outputs)
    line = f"{lhs} = {rhs}"
    storage = b.attr("storage")
    if storage is not None:
        slots = ", ".join("new" if s is None else f"s{s}" for s in storage)
        line += f"  # storage: {slots}"
    return line


def _function(graph: Graph, name: str, private: bool, fused_names: dict[int, str]) -> list[str]:
    names = _Names()
    params = ", ".join(f"{names.define_input(v)}: {tensor_sinfo(v)}" for v in graph.inputs)
    lines = ["@R.function(private=True)" if private else "@R.function", f"def {name}({params}):"]
    if private:
        lines.append(INDENT + 'R.func_attr({"Primitive": True})')
    if graph.storages:
        desc = ", ".join(f"s{n}: {s.dtype}[{s.size}]" for n, s in enumerate(graph.storages))
        lines.append(INDENT + f"# planned storage: {desc}")
    if graph.dataflow:
        names.outputs = {id(a) for a in graph.outputs}
    body = [INDENT + _binding_line(b, names, fused_names) for b in graph.bindings]
    outs = [names.ref(a) for a in graph.outputs]
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")"
    if names.consts:
        for n, c in enumerate(names.consts):
            lines.append(INDENT + f'# metadata["c{n}"]: {tensor_sinfo(c)}')
    if graph.dataflow and body:
        defined = [names.ref(a) for a in graph.outputs if id(a) in names.outputs
                   and any(a is v for b in graph.bindings for v in b.outputs)]
        body = ([INDENT + "with R.dataflow():"] + [INDENT + line for line in body]
                + ([INDENT * 2 + f"R.output({', '.join(dict.fromkeys(defined))})"] if defined else []))
    return lines + body + [INDENT + f"return {ret}"]


def graph_to_str(graph: Graph) -> str:
    """The Relax-like script of ``graph``, fused groups and the bodies of its loops and
    branches (``cls.for_loop_body``, ...) first."""
    blocks: list[str] = []
    _graph_blocks(graph, _identifier(graph.name), False, set(), blocks)
    return "\n\n".join(blocks)


def _graph_blocks(graph: Graph, name: str, private: bool, taken: set[str], blocks: list[str]) -> None:
    """Append the functions ``graph`` calls (recursively), then ``graph`` itself, to ``blocks``."""
    names: dict[int, str] = {}

    def fresh(base: str) -> str:
        return unique_name(base, taken, separator="")

    for b in graph.bindings:
        if b.op == "fused":
            names[id(b)] = fresh(b.attr("name", "fused"))
            blocks.append("\n".join(_function(b.attr("body"), names[id(b)], True, {})))
        elif b.op in _CONTROL:
            parts = []
            for key in _CONTROL[b.op]:
                value = b.attr(key)
                graphs = value if isinstance(value, tuple) else (value,)
                sub = []
                for n, g in enumerate(graphs):
                    sub_name = fresh(f"{b.op}_{key}" + (str(n) if isinstance(value, tuple) else ""))
                    _graph_blocks(g, sub_name, True, taken, blocks)
                    sub.append(f"cls.{sub_name}")
                parts.append(f"{key}=" + ("(" + ", ".join(sub) + ")" if isinstance(value, tuple) else sub[0]))
            names[id(b)] = ", ".join(parts)
    blocks.append("\n".join(_function(graph, name, private, names)))


#: the control-flow binding forms (mlc.ir.control) and their graph attributes
_CONTROL = {"for_loop": ("body",), "while_loop": ("cond", "body"), "switch": ("branches",)}


def _identifier(name: str) -> str:
    """``name`` as a Python function name (a traced lambda's ``<lambda>`` is ``_lambda_``)."""
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "main"
    return "_" + out if out[0].isdigit() else out
