"""Graph functions in TVMScript (``@R.function``) -> :class:`~mlc.ir.graph.Graph`.

Reads what :meth:`mlc.graph.GraphModule.script` and ``Lowered.as_text()``
print, and the course's hand-written ``main``: tensor parameters
``x: R.Tensor((n, m), "float32")``, an optional ``with R.dataflow():`` block
ending in ``R.output(...)``, bindings
``lv = R.call_tir(cls.f, (x, w), out_sinfo=R.Tensor((n, k), "float32"))`` (the
function also as a bare name or a string; the result type also as a third
positional argument, or as a shape with ``dtype=``),
``R.call_dps_packed("env.linear", (x, w), out_sinfo=...)``, registry ops
``R.add(x, y)`` / ``R.nn.softmax(x, axis=-1)``, calls ``cls.fused_f(x)`` of
private ``{"Primitive": True}`` functions (fused groups), scalar constants
``R.const(1.0, "float32")`` among the arguments, and ``return``. The graphs are
as a BlockBuilder writes them: unplanned (``mlc.build`` plans them).
"""
from __future__ import annotations

import ast

import numpy as np

from ..errors import MLCError
from ..graph.builder import shape_var
from ..ir import dtype as dt
from ..ir.graph import Binding, Graph, Var, constant
from ..ir.tir import IRModule
from ..ops.registry import TensorType, get_op
from ._source import Scopes, Source
from .tir_expr import ExprParser

__all__ = ["GraphParser", "is_fused_body"]


class GraphParser(ExprParser):
    """Parses one ``@R.function`` against the PrimFuncs of its module into a Graph.

    ``fused`` maps the names of the module's private ``{"Primitive": True}``
    functions to their definitions: ``cls.name(args)`` calls one as a fused group.
    """

    def __init__(self, source: Source, prim_funcs: IRModule, fused: dict[str, ast.FunctionDef] | None = None):
        super().__init__(source)
        self.prim_funcs = prim_funcs
        self.fused = fused or {}
        self.called: set[str] = set()  # the fused groups this function calls
        self.values = Scopes()
        self.dataflow = False

    def relax_call(self, node) -> str | None:
        if not isinstance(node, ast.Call):
            return None
        ns = self.namespace(node.func)
        return ".".join(ns[1]) if ns and ns[0] == "relax" else None

    def function(self, node: ast.FunctionDef) -> Graph:
        inputs = []
        for arg in node.args.args:
            if arg.annotation is None:
                raise self.error(arg, f'parameter {arg.arg} needs a type, e.g. {arg.arg}: R.Tensor((n, m), "float32")')
            var = Var(arg.arg, self.tensor_type(arg.annotation))
            self.values.define(arg.arg, var)
            inputs.append(var)
        bindings: list[Binding] = []
        outputs = self.body(node.body, bindings, node)
        if outputs is None:
            raise self.error(node, f"@R.function {node.name} has no return statement")
        return Graph(tuple(inputs), tuple(bindings), outputs, self.prim_funcs, name=node.name,
                     dataflow=self.dataflow)

    def body(self, stmts, bindings: list, parent):
        for stmt in stmts:
            if isinstance(stmt, ast.Expr) and self.relax_call(stmt.value) in ("func_attr", "output"):
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # a docstring
            if isinstance(stmt, ast.With):
                items = stmt.items
                if len(items) != 1 or self.relax_call(items[0].context_expr) != "dataflow":
                    raise self.error(stmt, "expected `with R.dataflow():`")
                if self.dataflow:
                    raise self.error(stmt, "a graph function has one dataflow block")
                self.dataflow = True
                if self.body(stmt.body, bindings, stmt) is not None:
                    raise self.error(stmt, "return from the function after the dataflow block")
                continue
            if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == "cls"):
                continue  # the course's older `cls = MyModule`: cls.f names the module's functions anyway
            if isinstance(stmt, ast.Assign):
                bindings.append(self.binding(stmt))
                continue
            if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:  # lv: R.Tensor(...) = ..., as TVM prints
                binding = self.binding(ast.Assign(targets=[stmt.target], value=stmt.value, lineno=stmt.lineno,
                                                  col_offset=stmt.col_offset))
                self.check_annotation(stmt, binding)
                bindings.append(binding)
                continue
            if isinstance(stmt, ast.Return):
                if stmt.value is None:
                    raise self.error(stmt, "a graph function returns its result tensors")
                elts = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
                return tuple(self.atom(e) for e in elts)
            raise self.error(stmt, f"{type(stmt).__name__} is not supported in an @R.function; "
                                   "bind R.call_tir results and return them")
        return None

    def binding(self, stmt: ast.Assign) -> Binding:
        if len(stmt.targets) != 1:
            raise self.error(stmt, "bind one call at a time: lv = R.call_tir(...)")
        target = stmt.targets[0]
        names = target.elts if isinstance(target, ast.Tuple) else [target]
        if not all(isinstance(n, ast.Name) for n in names):
            raise self.error(target, "bind the result to names, e.g. lv0 = R.call_tir(...)")
        call = stmt.value
        if not isinstance(call, ast.Call):
            raise self.error(call, f"expected a call, e.g. R.call_tir(...), got {ast.unparse(call)}")
        kind = self.relax_call(call)
        if kind in ("call_tir", "call_dps_packed"):
            op, args, attrs, types = self.dps_call(kind, call)
        elif kind is not None:
            op, args, attrs, types = self.op_call(kind, call)
        else:
            op, args, attrs, types = self.fused_call(call)
        if len(types) != len(names):
            raise self.error(target, f"{ast.unparse(call.func)} gives {len(types)} tensor(s), "
                                     f"bound to {len(names)} name(s)")
        outputs = tuple(Var(n.id, t) for n, t in zip(names, types))
        if op == "call_tir":
            self.check_call(call, attrs[0][1], args, outputs)
        for n, v in zip(names, outputs):
            self.values.define(n.id, v)
        return Binding(outputs, op, args, attrs)

    def check_annotation(self, stmt: ast.AnnAssign, binding: Binding) -> None:
        """``lv: R.Tensor((n, m), "float32") = ...``: the annotation must be the bound value's type."""
        if self.relax_call(stmt.annotation) != "Tensor" or len(binding.outputs) != 1:
            raise self.error(stmt.annotation, "annotate one bound tensor: lv: R.Tensor((n, m), \"float32\") = ...")
        declared, got = self.tensor_type(stmt.annotation), binding.outputs[0].type
        if tuple(declared.shape) != tuple(got.shape) or declared.dtype != got.dtype:
            raise self.error(stmt.annotation, f"the annotation says {declared.dtype}{list(declared.shape)}, but the "
                                              f"call gives {got.dtype}{list(got.shape)}")

    def arguments(self, node) -> tuple:
        elts = node.elts if isinstance(node, (ast.Tuple, ast.List)) else [node]
        return tuple(self.atom(a) for a in elts)

    def dps_call(self, kind: str, call: ast.Call):
        """``R.call_tir(f, (args,), out_sinfo)`` or ``R.call_dps_packed("name", (args,), out_sinfo)``."""
        if len(call.args) < 2:
            raise self.error(call, f"R.{kind} takes (func, (args,), out_sinfo)")
        if kind == "call_tir":
            func = self.func_name(call.args[0])
        elif isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
            func = call.args[0].value
        else:
            raise self.error(call.args[0], 'R.call_dps_packed names its library function by a string: '
                                           'R.call_dps_packed("env.linear", (x, w), out_sinfo=...)')
        return kind, self.arguments(call.args[1]), (("func", func),), self.out_types(call, kind)

    def op_call(self, name: str, call: ast.Call):
        """``R.add(x, y)``, ``R.nn.softmax(x, axis=-1)``: a registry op, its result type inferred
        (``relax.op.multiply(x, y)``, the course's chapter 9 spelling, names ``R.multiply``)."""
        name = name.removeprefix("op.")
        opdef = self.wrap(call, lambda: get_op(name))
        args = tuple(self.atom(a) for a in call.args)
        attrs = {}
        for kw in call.keywords:
            if kw.arg is None:
                raise self.error(kw, f"R.{name}: name each attribute, e.g. axis=-1")
            try:
                attrs[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                raise self.error(kw.value, f"R.{name}: attribute {kw.arg} must be a literal "
                                           f"(a number, string or tuple), got {ast.unparse(kw.value)}") from None
        try:
            result = self.wrap(call, lambda: opdef.infer(*(a.type for a in args), **attrs))
        except TypeError as err:  # the op's type rule takes other arguments or attributes
            raise self.error(call, f"R.{name} takes other arguments: {err}".replace("<lambda>()", "it")) from None
        types = list(result) if isinstance(result, (tuple, list)) else [result]
        return opdef.name, args, tuple(sorted(attrs.items())), types

    def fused_call(self, call: ast.Call):
        """``cls.fused_f(x, y)``: a call of a private ``{"Primitive": True}`` function of the module."""
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == "cls" else None
        if name not in self.fused:
            raise self.error(call, f"{ast.unparse(func)} is not supported in parsed graphs; call kernels with "
                                   "R.call_tir(cls.func, (args,), out_sinfo=R.Tensor(shape, dtype)), "
                                   "library functions with R.call_dps_packed, fused groups (private "
                                   '@R.function with R.func_attr({"Primitive": True})) as cls.name(args)')
        body = GraphParser(self.src, self.prim_funcs, {}).function(self.fused[name])
        self.called.add(name)
        args = tuple(self.atom(a) for a in call.args)
        if len(args) != len(body.inputs):
            raise self.error(call, f"cls.{name} takes {len(body.inputs)} tensor(s), given {len(args)}")
        for p, a in zip(body.inputs, args):
            if p.type != a.type:
                raise self.error(call, f"cls.{name}: parameter {p.name} is {p.dtype}{list(p.shape)}, "
                                       f"given {a.dtype}{list(a.shape)}")
        return "fused", args, (("body", body), ("name", name)), [v.type for v in body.outputs]

    def func_name(self, node) -> str:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cls":
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value
        else:
            raise self.error(node, "R.call_tir's first argument names a @T.prim_func: cls.f, f or \"f\"")
        if name not in self.prim_funcs:
            raise self.error(node, f"R.call_tir of {name!r}: no such @T.prim_func in the module "
                                   f"(it has {sorted(self.prim_funcs)})")
        return name

    def out_types(self, call: ast.Call, kind: str = "call_tir") -> list[TensorType]:
        sinfo = [kw.value for kw in call.keywords if kw.arg == "out_sinfo"]
        dtype_kw = [kw.value for kw in call.keywords if kw.arg == "dtype"]
        if sinfo:
            node = sinfo[0]
        elif len(call.args) >= 3:
            node = call.args[2]
        else:
            raise self.error(call, f"R.{kind} needs the result type: out_sinfo=R.Tensor(shape, dtype)")
        if dtype_kw or isinstance(node, ast.Tuple) and not any(self.relax_call(e) == "Tensor" for e in node.elts):
            dtype = self.constant(dtype_kw[0]) if dtype_kw else "float32"
            shape = self.shape(node)
            return [TensorType(shape, self.wrap(node, lambda: dt.canonical(dtype)))]
        elts = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
        return [self.tensor_type(e) for e in elts]

    def check_call(self, node, func: str, args, outputs) -> None:
        """The arguments and results must match the PrimFunc's buffers, in order."""
        params = self.prim_funcs[func].params
        values = list(args) + list(outputs)
        if len(params) != len(values):
            raise self.error(node, f"R.call_tir of {func}: the PrimFunc has {len(params)} buffers, "
                                   f"given {len(args)} argument(s) and {len(outputs)} result(s)")
        for p, v in zip(params, values):
            shape = p.static_shape()
            if tuple(v.shape) != shape or v.dtype != p.dtype:
                raise self.error(node, f"R.call_tir of {func}: buffer {p.name} is {p.dtype}{list(shape)}, "
                                       f"given {v.dtype}{list(v.shape)}")

    def atom(self, node):
        if isinstance(node, ast.Name):
            value = self.values.lookup(node.id)
            if value is None:
                raise self.error(node, f"name {node.id!r} is not a parameter or an earlier binding")
            return value
        if self.relax_call(node) == "const":
            if not node.args:
                raise self.error(node, 'R.const takes (value, "dtype")')
            value = self.constant(node.args[0])
            dtype = self.constant(node.args[1]) if len(node.args) > 1 else \
                self.constant(node.keywords[0].value) if node.keywords else None
            return constant(np.array(value, dtype=self.wrap(node, lambda: dt.canonical(dtype)) if dtype else None))
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "metadata":
            raise self.error(node, "metadata[...] constants are printed without their data and cannot be "
                                   "parsed back; pass the array as a parameter")
        raise self.error(node, f"expected a tensor name or R.const(...), got {ast.unparse(node)}")

    def tensor_type(self, node) -> TensorType:
        if self.relax_call(node) != "Tensor":
            raise self.error(node, f'expected R.Tensor((n, m), "float32"), got {ast.unparse(node)}')
        args = list(node.args)
        kwargs = {kw.arg: kw.value for kw in node.keywords}
        shape_node = args[0] if args else kwargs.get("shape")
        dtype_node = args[1] if len(args) > 1 else kwargs.get("dtype")
        if shape_node is None:
            raise self.error(node, "R.Tensor needs a shape")
        dtype = self.constant(dtype_node) if dtype_node is not None else "float32"
        return TensorType(self.shape(shape_node), self.wrap(node, lambda: dt.canonical(dtype)))

    def shape(self, node) -> tuple:
        """Extents: ints, or symbolic dimensions named by a string (``("n", 4)``) or a name
        the function does not define (``(n, 4)``, as the graph printer writes them)."""
        elts = node.elts if isinstance(node, (ast.Tuple, ast.List)) else [node]
        out = []
        for e in elts:
            if isinstance(e, ast.Constant) and isinstance(e.value, str):
                out.append(self.wrap(e, lambda name=e.value: shape_var(name)))
                continue
            if isinstance(e, ast.Name):
                try:
                    n = self.int_const(e)
                except MLCError:
                    out.append(self.wrap(e, lambda name=e.id: shape_var(name)))
                    continue
            else:
                n = self.int_const(e)
            if n < 0:
                raise self.error(e, f"negative extent {n} in a tensor shape")
            out.append(n)
        return tuple(out)


def is_fused_body(parser: ExprParser, node: ast.FunctionDef) -> bool:
    """True for a function whose body sets ``R.func_attr({"Primitive": True})``: a fused group."""
    for stmt in node.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            ns = parser.namespace(stmt.value.func)
            if ns == ("relax", ["func_attr"]) and stmt.value.args:
                try:
                    attrs = ast.literal_eval(stmt.value.args[0])
                except ValueError:
                    raise parser.error(stmt, "R.func_attr takes a dict literal") from None
                return isinstance(attrs, dict) and attrs.get("Primitive") is True
    return False
