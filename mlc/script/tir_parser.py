"""TVMScript statements and functions -> PrimFunc.

Reads what :mod:`mlc.ir.printer` prints and what the MLC course types by
hand: buffer parameters (``T.Buffer((n, m), "float32")`` or the older
``T.Buffer[(n, m), "float32"]``, or ``T.handle`` with ``T.match_buffer``),
``T.func_attr``, ``T.alloc_buffer``, loops (``range``, ``T.grid``,
``T.serial/parallel/vectorized/unroll/thread_binding``), blocks with
``T.axis.spatial/reduce/opaque/remap``, ``T.where``, ``T.reads/T.writes``
(inferred from the body when left out), ``T.block_attr``, ``T.init``,
``if``/``else``, stores, ``T.evaluate`` and ``T.allocate``; a graph's main also
``T.decl_buffer``, ``T.call_prim_func`` and ``T.call_packed``.
"""
from __future__ import annotations

import ast

from ..ir import dtype as dt
from ..ir.calls import CallPacked, CallPrimFunc, DeclBuffer
from ..ir.buffer import SCOPES, Buffer, BufferRegion, is_storage_scope
from ..ir.expr import BufferLoad, IntImm, IterVar, PrimExpr, Range, Var, const, convert
from ..ir.analysis import block_problem
from ..ir.arith import IntSet, canonical, difference, relax_region, union_regions
from ..ir.functor import pre_order_nodes, substitute
from ..ir.te import access_regions
from ..ir.tir import (While, Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse,
                      LetStmt, PrimFunc, SeqStmt, seq)
from .tir_expr import ExprParser

__all__ = ["TIRParser"]

_LOOP_KINDS = {"serial": "serial", "parallel": "parallel", "vectorized": "vectorized",
               "unroll": "unrolled", "thread_binding": "thread_binding"}
_AXIS_KINDS = {"spatial": "spatial", "reduce": "reduce", "opaque": "opaque", "S": "spatial",
               "R": "reduce", "O": "opaque"}


class _BlockFrame:
    """What the lines of one ``with T.block(...)`` have declared so far."""

    def __init__(self, name: str):
        self.name = name
        self.iter_vars: list[IterVar] = []
        self.values: list[PrimExpr] = []
        self.predicate: PrimExpr | None = None
        self.reads: tuple[BufferRegion, ...] | None = None
        self.writes: tuple[BufferRegion, ...] | None = None
        self.annotations: tuple = ()
        self.allocs: list[Buffer] = []
        self.init = None


class TIRParser(ExprParser):
    """Parses one ``def`` into a PrimFunc."""

    def __init__(self, source):
        super().__init__(source)
        self.loop_extent: dict[int, PrimExpr] = {}
        self.block_frames: list[_BlockFrame] = []
        self.keep: list = []
        self.block_nodes: dict[int, ast.With] = {}  # id(BlockRealize) -> where it is written

    # ----------------------------------------------------------- function
    def function(self, node: ast.FunctionDef) -> PrimFunc:
        self.scopes.push()
        shape_vars = self.shape_vars(node)
        params, handles = [], {}
        for arg in node.args.args:
            if arg.annotation is None:
                raise self.error(arg, f"parameter {arg.arg} needs a type, e.g. "
                                      f'{arg.arg}: T.Buffer((128, 128), "float32")')
            if self.tir_attr(arg.annotation) == "handle":
                handles[arg.arg] = len(params)
                params.append(None)
                self.scopes.define(arg.arg, _Handle(arg.arg))
                continue
            buf = self.buffer_decl(arg.annotation, arg.arg, "Buffer")
            self.scopes.define(arg.arg, buf)
            params.append(buf)
        attrs: tuple = ()
        allocs: list[Buffer] = []
        body_nodes = []
        for stmt in node.body:
            call = self.tir_call(stmt.value) if isinstance(stmt, (ast.Expr, ast.Assign)) else None
            if isinstance(stmt, ast.Expr) and call == "func_attr":
                attrs = self.dict_arg(stmt.value)
            elif isinstance(stmt, ast.Assign) and call == "match_buffer":
                name, buf = self.match_buffer(stmt)
                if name not in handles or params[handles[name]] is not None:
                    raise self.error(stmt, f"T.match_buffer of {name!r}: expected a T.handle "
                                           "parameter matched once")
                params[handles[name]] = buf
            elif isinstance(stmt, ast.Assign) and call == "alloc_buffer" and not body_nodes:
                allocs.append(self.alloc_buffer(stmt))
            elif _is_docstring(stmt) or stmt in shape_vars:
                continue
            else:
                body_nodes.append(stmt)
        missing = [n for n, i in handles.items() if params[i] is None]
        if missing:
            raise self.error(node, f"T.handle parameter(s) {missing} have no T.match_buffer")
        body = self.stmts(body_nodes, node)
        has_block = any(isinstance(n, BlockRealize) for n in pre_order_nodes(body))
        if allocs or has_block:
            root = Block("root", (), (), (), body, alloc_buffers=tuple(allocs))
            body = BlockRealize((), const(True, "bool"), root)
        self.scopes.pop()
        func = PrimFunc(tuple(params), body, attrs)
        problem = block_problem(func)
        if problem is not None:
            realize, why = problem
            raise self.error(self.block_nodes.get(id(realize), node), why)
        return func

    def shape_vars(self, node: ast.FunctionDef) -> set:
        """Define the function's shape variables, ``n = T.int32()`` (or ``T.var("int32")``) statements of its body
        (the printer writes them after the attributes; the parameters' shapes use them),
        before the parameters are read; returns those statements."""
        found = set()
        for stmt in node.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Call) and not stmt.value.keywords):
                continue
            call, args = self.tir_call(stmt.value), stmt.value.args
            if call in dt.INTS and not args:
                dtype = call
            elif (call == "var" and len(args) == 1 and isinstance(args[0], ast.Constant)
                  and args[0].value in dt.INTS):  # the older spelling: sa = T.var("int32")
                dtype = args[0].value
            else:
                continue
            self.scopes.define(stmt.targets[0].id, Var(stmt.targets[0].id, dtype))
            found.add(stmt)
        return found

    def tir_attr(self, node) -> str | None:
        """``T.handle`` -> "handle"."""
        ns = self.namespace(node)
        return ".".join(ns[1]) if ns and ns[0] == "tir" else None

    def buffer_decl(self, node, name: str, what: str) -> Buffer:
        """``T.Buffer((8, 8), "float32", scope=...)`` or ``T.Buffer[(8, 8), "float32"]``."""
        if isinstance(node, ast.Subscript) and self.tir_attr(node.value) == what:
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return self.make_buffer(node, name, items, [])
        if isinstance(node, ast.Call) and self.tir_call(node) == what:
            return self.make_buffer(node, name, node.args, node.keywords)
        raise self.error(node, f'expected T.{what}((shape), "dtype"), got {ast.unparse(node)}')

    def make_buffer(self, node, name: str, args, keywords) -> Buffer:
        options = {"dtype": "float32", "scope": "global", "strides": ()}
        names = ["shape", "dtype", "scope"]
        given = {}
        if len(args) > len(names):
            raise self.error(node, f"buffer {name}: too many arguments")
        for key, value in zip(names, args):
            given[key] = value
        for kw in keywords:
            if kw.arg in ("offset_factor", "align"):  # TVM's alignment hints: accepted, not needed here
                continue
            if kw.arg not in ("shape", "dtype", "scope", "strides"):
                raise self.error(kw, f"buffer {name}: unknown argument {kw.arg!r}")
            given[kw.arg] = kw.value
        if "shape" not in given:
            raise self.error(node, f"buffer {name} needs a shape")
        shape_node = given.pop("shape")
        dims = shape_node.elts if isinstance(shape_node, (ast.Tuple, ast.List)) else [shape_node]
        shape = tuple(self.prim(d, dt.INDEX) for d in dims)
        for key, value in given.items():
            if key == "strides":
                elts = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
                options[key] = tuple(self.prim(x, dt.INDEX) for x in elts)
            else:
                options[key] = self.constant(value)
        dtype = self.wrap(node, lambda: dt.canonical(options["dtype"]))
        if not is_storage_scope(options["scope"]):
            raise self.error(node, f"buffer {name}: unknown scope {options['scope']!r}; "
                                   f"expected one of {', '.join(SCOPES)}")
        for extent, dim in zip(shape, dims):
            if not dt.is_int(extent.dtype):
                raise self.error(node, f"buffer {name}: shape entries must be integers")
            if isinstance(extent, IntImm) and extent.value < 0:
                raise self.error(dim, f"buffer {name}: negative extent {extent.value} in its shape; "
                                      "a buffer's extents are sizes, 0 or more")
        return Buffer(name, shape, dtype, options["scope"], options["strides"])

    def dict_arg(self, call: ast.Call) -> tuple:
        """The (key, value) pairs of ``T.func_attr({...})`` / ``T.block_attr({...})``, in order."""
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Dict):
            raise self.error(call, "expected one dict literal, e.g. T.func_attr({\"tir.noalias\": True})")
        pairs = []
        for k, v in zip(call.args[0].keys, call.args[0].values):
            key = self.constant(k) if k is not None else None
            if not isinstance(key, str):
                raise self.error(k or call, "attribute keys must be strings")
            pairs.append((key, self.attr_value(v)))
        return tuple(pairs)

    def attr_value(self, node):
        if self.tir_call(node) == "bool" and len(node.args) == 1:
            return bool(self.constant(node.args[0]))
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise self.error(node, f"attribute values must be Python literals, got {ast.unparse(node)}") from None

    def match_buffer(self, stmt: ast.Assign) -> tuple[str, Buffer]:
        target = _single_name(self, stmt)
        call = stmt.value
        if not call.args or not isinstance(call.args[0], ast.Name):
            raise self.error(call, "T.match_buffer takes the handle parameter first")
        buf = self.make_buffer(call, target, call.args[1:], call.keywords)
        self.scopes.define(target, buf)
        return call.args[0].id, buf

    def alloc_buffer(self, stmt: ast.Assign) -> Buffer:
        target = _single_name(self, stmt)
        buf = self.make_buffer(stmt.value, target, stmt.value.args, stmt.value.keywords)
        self.scopes.define(target, buf)
        return buf

    # ---------------------------------------------------------- statements
    def stmts(self, nodes: list, parent):
        out = []
        for n, node in enumerate(nodes):
            if isinstance(node, ast.Assign) and self.tir_call(node.value) == "allocate":
                out.append(self.allocate(node, nodes[n + 1:], parent))
                break
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                out.append(self.let_stmt(node, nodes[n + 1:], parent))
                break
            stmt = self.stmt(node)
            if stmt is not None:
                out.append(stmt)
        return seq(*out)

    def stmt(self, node):
        if isinstance(node, ast.For):
            return self.for_loop(node)
        if isinstance(node, ast.With):
            return self.with_block(node)
        if isinstance(node, ast.If):
            cond = self.prim(node.test)
            if cond.dtype != "bool":
                raise self.error(node.test, f"`if` needs a bool condition, got {cond.dtype}")
            then = self.scoped(node.body, node)
            other = self.scoped(node.orelse, node) if node.orelse else None
            return IfThenElse(cond, then, other)
        if isinstance(node, ast.While) and not node.orelse:
            cond = self.prim(node.test)
            if cond.dtype != "bool":
                raise self.error(node.test, f"`while` needs a bool condition, got {cond.dtype}")
            return While(cond, self.scoped(node.body, node))
        if isinstance(node, ast.Assign):
            return self.assign(node)
        if isinstance(node, ast.AugAssign):
            return self.aug_assign(node)
        if isinstance(node, ast.Expr):
            return self.expr_stmt(node)
        if isinstance(node, ast.Pass):
            return None
        raise self.error(node, f"{type(node).__name__} statements are not supported in TensorIR")

    def scoped(self, nodes, parent):
        self.scopes.push()
        try:
            return self.stmts(nodes, parent)
        finally:
            self.scopes.pop()

    def assign(self, node: ast.Assign):
        call = self.tir_call(node.value)
        frame = self.block_frames[-1] if self.block_frames else None
        if call is not None and call.startswith("axis."):
            if frame is None:
                raise self.error(node, "T.axis.* defines block iterators; use it inside a T.block")
            self.axis(node, call[5:], frame)
            return None
        if call == "alloc_buffer":
            if frame is None:
                raise self.error(node, "T.alloc_buffer belongs at the top of the function or of a block")
            frame.allocs.append(self.alloc_buffer(node))
            return None
        if call == "decl_buffer":
            return self.decl_buffer(node)
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Subscript):
            raise self.error(node, "TensorIR assigns to buffer elements only, e.g. B[i] = A[i]")
        return self.store(node.targets[0], self.value(node.value), node)

    def aug_assign(self, node: ast.AugAssign):
        if not isinstance(node.target, ast.Subscript):
            raise self.error(node, "TensorIR assigns to buffer elements only, e.g. B[i] += A[i]")
        load = ast.Subscript(node.target.value, node.target.slice, ast.Load())
        expr = ast.BinOp(load, node.op, node.value)
        ast.copy_location(expr, node)
        ast.copy_location(load, node.target)
        return self.store(node.target, self.value(expr), node)

    def store(self, target: ast.Subscript, value, node):
        loc = self.value(ast.Subscript(target.value, target.slice, ast.Load(), lineno=target.lineno,
                                       col_offset=target.col_offset))
        if not isinstance(loc, BufferLoad):
            raise self.error(target, "assign to one buffer element, e.g. B[i, j] = ...")
        buf = loc.buffer
        if isinstance(value, PrimExpr) and dt.element(value.dtype) != buf.dtype:
            raise self.error(node, f"storing a {value.dtype} value into {buf.dtype} buffer {buf.name}; "
                                   f'cast it, e.g. T.Cast("{buf.dtype}", ...)')
        expr = self.wrap(node, lambda: convert(value, buf.dtype))
        return self.wrap(node, lambda: BufferStore(buf, expr, loc.indices))

    def expr_stmt(self, node: ast.Expr):
        call = self.tir_call(node.value)
        frame = self.block_frames[-1] if self.block_frames else None
        header = ("where", "reads", "writes", "block_attr")
        if call in header:
            if frame is None:
                raise self.error(node, f"T.{call} belongs inside a T.block")
            args = node.value.args
            if call == "where":
                self.arity(node.value, 1)
                frame.predicate = self.prim(args[0])
            elif call == "block_attr":
                frame.annotations = self.dict_arg(node.value)
            else:
                regions = []
                for a in args:
                    r = self.value(a)
                    if isinstance(r, BufferLoad):
                        r = BufferRegion(r.buffer, tuple(Range(i, const(1, dt.INDEX)) for i in r.indices))
                    elif isinstance(r, Buffer):
                        r = BufferRegion.full(r)
                    if not isinstance(r, BufferRegion):
                        raise self.error(a, f"T.{call} takes buffer regions, e.g. A[vi, 0:8]")
                    regions.append(r)
                setattr(frame, call, tuple(regions))
            return None
        if call == "evaluate":
            self.arity(node.value, 1)
            return Evaluate(self.prim(node.value.args[0]))
        if call in ("call_prim_func", "call_packed"):
            return self.call_by_name(node.value, CallPrimFunc if call == "call_prim_func" else CallPacked)
        if call == "func_attr":
            raise self.error(node, "T.func_attr belongs at the top of the function body")
        raise self.error(node, f"expression statement {ast.unparse(node)} has no effect in TensorIR")

    def decl_buffer(self, node: ast.Assign) -> DeclBuffer:
        """``B = T.decl_buffer((2, 3), "float32", data=S.data)``: B views S's memory."""
        name = _single_name(self, node)
        call = node.value
        data = [k.value for k in call.keywords if k.arg == "data"]
        if len(data) != 1 or not isinstance(data[0], ast.Attribute) or data[0].attr != "data":
            raise self.error(call, 'T.decl_buffer takes (shape, "dtype", data=Other.data)')
        source = self.value(data[0].value)
        if not isinstance(source, Buffer):
            raise self.error(data[0], f"data= names a buffer's data, e.g. data=S.data; got {ast.unparse(data[0])}")
        buf = self.make_buffer(call, name, call.args, [k for k in call.keywords if k.arg != "data"])
        self.scopes.define(name, buf)
        return DeclBuffer(buf, source)

    def call_by_name(self, call: ast.Call, node_type):
        """``T.call_prim_func("f", A, B)`` / ``T.call_packed("env.f", A, B)``."""
        if not call.args or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
            raise self.error(call, f'{ast.unparse(call.func)} takes the function name first, e.g. ("f", A, B)')
        args = []
        for a in call.args[1:]:
            buf = self.value(a)
            if not isinstance(buf, Buffer):
                raise self.error(a, f"{ast.unparse(call.func)} passes whole buffers, got {ast.unparse(a)}")
            args.append(buf)
        return self.wrap(call, lambda: node_type(call.args[0].value, tuple(args)))

    def allocate(self, node: ast.Assign, rest, parent):
        name = _single_name(self, node)
        call = node.value
        if len(call.args) < 2:
            raise self.error(call, 'T.allocate takes ([shape], "dtype", "scope")')
        buf = self.make_buffer(call, name, call.args, call.keywords)
        self.scopes.push()
        self.scopes.define(name, buf)
        body = self.stmts(rest, parent)
        self.scopes.pop()
        return Allocate(buf, body)

    def let_stmt(self, node: ast.AnnAssign, rest, parent) -> LetStmt:
        """``v: T.int32 = value`` then the statements after it, which read ``v``
        (:class:`~mlc.ir.tir.LetStmt`)."""
        ann = node.annotation
        dtype = ann.attr if isinstance(ann, ast.Attribute) and isinstance(ann.value, ast.Name) else None
        if dtype is None or dt.element(dtype) not in dt.SUPPORTED:
            raise self.error(ann, f"annotate a bound value with its dtype, e.g. v: T.int32 = i * 4; "
                                  f"got {ast.unparse(ann)}")
        value = self.prim(node.value, dtype)
        if value.dtype != dtype:
            raise self.error(node.value, f"{node.target.id} is annotated {dtype} but its value is a {value.dtype}")
        var = Var(node.target.id, dtype)
        self.scopes.push()
        self.scopes.define(node.target.id, var)
        body = self.stmts(rest, parent)
        self.scopes.pop()
        return LetStmt(var, value, body)

    # --------------------------------------------------------------- loops
    def for_loop(self, node: ast.For):
        it = node.iter
        if not isinstance(it, ast.Call):
            raise self.error(it, "loop over range(...), T.grid(...) or T.serial/parallel/... ")
        names = _target_names(self, node.target)
        if isinstance(it.func, ast.Name) and it.func.id == "range":
            kind, thread, annotations = "serial", None, ()
            bounds = [self.bounds(it, it.args)]
        else:
            call = self.tir_call(it)
            if call == "grid":
                bounds = [(const(0, self.prim(a, dt.INDEX).dtype), self.prim(a, dt.INDEX)) for a in it.args]
                kind, thread, annotations = "serial", None, ()
            elif call in _LOOP_KINDS:
                kind, thread, annotations = _LOOP_KINDS[call], None, ()
                for kw in it.keywords:
                    if kw.arg == "thread":
                        thread = self.constant(kw.value)
                    elif kw.arg == "annotations":
                        annotations = tuple(self.attr_value(kw.value).items()) \
                            if isinstance(kw.value, ast.Dict) else ()
                    else:
                        raise self.error(kw, f"T.{call} has no argument {kw.arg!r}")
                args = list(it.args)
                if call == "thread_binding" and thread is None and args and \
                        isinstance(args[-1], ast.Constant) and isinstance(args[-1].value, str):
                    thread = args.pop().value
                bounds = [self.bounds(it, args)]
            else:
                raise self.error(it, f"loop over range(...), T.grid(...) or T.serial/parallel/"
                                     f"vectorized/unroll/thread_binding, not {ast.unparse(it.func)}")
        if len(names) != len(bounds):
            raise self.error(node.target, f"{len(names)} loop variable(s) for {len(bounds)} loop(s)")
        self.scopes.push()
        loop_vars = []
        for (target, name), (lo, extent) in zip(names, bounds):
            v = Var(name, extent.dtype)
            self.scopes.define(name, v)
            self.loop_extent[id(v)] = extent
            self.keep.append(v)
            loop_vars.append((v, lo, extent))
        body = self.stmts(node.body, node)
        self.scopes.pop()
        if node.orelse:
            raise self.error(node, "for ... else is not supported in TensorIR")
        single = len(loop_vars) == 1  # T.grid loops are plain serial loops
        for v, lo, extent in reversed(loop_vars):
            inner = body
            body = self.wrap(node, lambda: For(v, lo, extent, kind, inner, thread if single else None,
                                               annotations if single else ()))
        return body

    def bounds(self, node, args) -> tuple[PrimExpr, PrimExpr]:
        if len(args) == 1:
            extent = self.prim(args[0], dt.INDEX)
            return const(0, extent.dtype), extent
        if len(args) == 2:
            lo, hi = self.prim(args[0], dt.INDEX), self.prim(args[1], dt.INDEX)
            return lo, self.wrap(node, lambda: difference(lo, hi))
        raise self.error(node, "a loop takes (extent) or (begin, end)")

    # -------------------------------------------------------------- blocks
    def with_block(self, node: ast.With):
        if len(node.items) != 1 or node.items[0].optional_vars is not None:
            raise self.error(node, "expected `with T.block(\"name\"):` or `with T.init():`")
        call = self.tir_call(node.items[0].context_expr)
        if call == "init":
            frame = self.block_frames[-1] if self.block_frames else None
            if frame is None:
                raise self.error(node, "T.init() belongs inside a T.block")
            frame.init = self.scoped(node.body, node)
            return None
        if call != "block":
            raise self.error(node, "expected `with T.block(\"name\"):` or `with T.init():`")
        args = node.items[0].context_expr.args
        name = self.constant(args[0]) if args else "block"
        if not isinstance(name, str):
            raise self.error(node, "T.block takes the block's name, a string")
        frame = _BlockFrame(name)
        self.block_frames.append(frame)
        self.scopes.push()
        try:
            body = self.stmts(node.body, node)
        finally:
            self.scopes.pop()
            self.block_frames.pop()
        reads, writes = frame.reads, frame.writes
        if reads is None or writes is None:
            inferred_reads, inferred_writes = _infer_regions(body, frame.init)
            reads = inferred_reads if reads is None else reads
            writes = inferred_writes if writes is None else writes
        block = Block(name, tuple(frame.iter_vars), reads, writes, body, frame.init,
                      tuple(frame.allocs), frame.annotations)
        predicate = frame.predicate if frame.predicate is not None else const(True, "bool")
        realize = self.wrap(node, lambda: BlockRealize(tuple(frame.values), predicate, block))
        self.block_nodes[id(realize)] = node
        self.keep.append(realize)
        return realize

    def axis(self, node: ast.Assign, kind: str, frame: _BlockFrame) -> None:
        call = node.value
        names = _target_names(self, node.targets[0]) if len(node.targets) == 1 else []
        if kind == "remap":
            if len(call.args) != 2 or not isinstance(call.args[1], (ast.List, ast.Tuple)):
                raise self.error(call, 'T.axis.remap takes ("SSR", [i, j, k])')
            kinds = self.constant(call.args[0])
            values = call.args[1].elts
            if not isinstance(kinds, str) or len(kinds) != len(values) or len(names) != len(values):
                raise self.error(call, f"T.axis.remap: {len(names)} iterator(s), kinds {kinds!r} and "
                                       f"{len(values)} value(s) must match in number")
            for (target, name), k, value_node in zip(names, kinds, values):
                if k not in "SRO":
                    raise self.error(call.args[0], f"T.axis.remap kinds are S, R or O, got {k!r}")
                value = self.prim(value_node, dt.INDEX)
                extent = self.loop_extent.get(id(value)) if isinstance(value, Var) else None
                if extent is None:
                    raise self.error(value_node, "T.axis.remap binds loop variables only; use "
                                                 "T.axis.spatial(extent, value) for an expression")
                self.define_axis(frame, name, Range(const(0, extent.dtype), extent), _AXIS_KINDS[k], value)
            return
        if kind not in ("spatial", "reduce", "opaque"):
            raise self.error(call, f"T.axis.{kind} is not an axis kind; use spatial, reduce, opaque or remap")
        if len(names) != 1 or len(call.args) != 2:
            raise self.error(node, f"expected `v = T.axis.{kind}(extent, value)`")
        dom_node, value_node = call.args
        value = self.prim(value_node, dt.INDEX)
        if isinstance(dom_node, ast.Tuple):
            if len(dom_node.elts) != 2:
                raise self.error(dom_node, "an axis domain is an extent or (begin, end)")
            lo, hi = (self.prim(x, value.dtype) for x in dom_node.elts)
            dom = Range(lo, self.wrap(dom_node, lambda: difference(lo, hi)))
        else:
            extent = self.prim(dom_node, value.dtype)
            dom = Range(const(0, extent.dtype), extent)
        self.define_axis(frame, names[0][1], dom, kind, value)

    def define_axis(self, frame, name: str, dom: Range, kind: str, value: PrimExpr) -> None:
        var = Var(name, value.dtype)
        frame.iter_vars.append(IterVar(var, dom, kind))
        frame.values.append(value)
        self.scopes.define(name, var)


class _Handle:
    """A ``T.handle`` parameter, waiting for its ``T.match_buffer``."""

    def __init__(self, name: str):
        self.name = name


def _is_docstring(stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _single_name(parser, stmt: ast.Assign) -> str:
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
        raise parser.error(stmt, "assign the buffer to one name, e.g. Y = T.alloc_buffer((8,))")
    return stmt.targets[0].id


def _target_names(parser, target) -> list[tuple]:
    elts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
    for e in elts:
        if not isinstance(e, ast.Name):
            raise parser.error(e, f"expected a name, got {ast.unparse(e)}")
    return [(e, e.id) for e in elts]


def _infer_regions(body, init) -> tuple[tuple[BufferRegion, ...], tuple[BufferRegion, ...]]:
    """Reads and writes of a block that declares none, as te would give them.

    Writes cover every store; reads cover every load, except that a reduction
    (a block with an init) does not list the buffers it accumulates into. Blocks
    nested in it contribute their own regions, over the loops between them and it.
    """
    if any(isinstance(n, BlockRealize) for part in (body, init) if part is not None for n in pre_order_nodes(part)):
        return _nested_regions(body, init)
    stores = [n for n in pre_order_nodes(body) if isinstance(n, BufferStore)]
    if init is not None:
        stores += [n for n in pre_order_nodes(init) if isinstance(n, BufferStore)]
    written = {id(s.buffer) for s in stores}
    writes = access_regions([BufferLoad(s.buffer, s.indices, s.buffer.dtype) for s in stores])
    loads = [n for n in pre_order_nodes(body) if isinstance(n, BufferLoad)
             and not (init is not None and id(n.buffer) in written)]
    return access_regions(loads), writes



def _nested_regions(body, init) -> tuple[tuple[BufferRegion, ...], tuple[BufferRegion, ...]]:
    """:func:`_infer_regions` of a block holding blocks (the course's ``tmm-16x16`` around
    ``tmm``): each access, and each nested block's regions with its iterators bound to their
    values, relaxed over the loops inside this block; a buffer's regions joined."""
    hulls: dict[str, dict[int, list]] = {"reads": {}, "writes": {}}
    buffers: dict[int, Buffer] = {}

    def add(kind: str, buf: Buffer, region, dom) -> None:
        buffers[id(buf)] = buf
        hulls[kind][id(buf)] = union_regions(hulls[kind].get(id(buf)), relax_region(region, dom))

    def loads(e, dom) -> None:
        for n in pre_order_nodes(e):
            if isinstance(n, BufferLoad):
                add("reads", n.buffer, [Range(i, const(1, i.dtype)) for i in n.indices], dom)

    def stmt(node, dom) -> None:
        if node is None:
            return
        if isinstance(node, BlockRealize):
            bind = {iv.var: v for iv, v in zip(node.block.iter_vars, node.iter_values)}
            for kind in ("reads", "writes"):
                for r in getattr(node.block, kind):
                    add(kind, r.buffer, [Range(substitute(x.min, bind), substitute(x.extent, bind))
                                         for x in r.region], dom)
        elif isinstance(node, For):
            stmt(node.body, {**dom, node.loop_var: IntSet(node.min, canonical(node.min + node.extent - 1))})
        elif isinstance(node, SeqStmt):
            for child in node.seq:
                stmt(child, dom)
        elif isinstance(node, BufferStore):
            loads(node.value, dom)
            add("writes", node.buffer, [Range(i, const(1, i.dtype)) for i in node.indices], dom)
        elif isinstance(node, IfThenElse):
            loads(node.condition, dom)
            stmt(node.then_case, dom)
            stmt(node.else_case, dom)
        elif isinstance(node, Allocate):
            stmt(node.body, dom)
        else:
            loads(node, dom)

    for part in (body, init):
        stmt(part, {})
    written = set(hulls["writes"])
    out = {}
    for kind in ("reads", "writes"):
        regions = []
        for key, sets in hulls[kind].items():
            if kind == "reads" and init is not None and key in written:
                continue  # a reduction does not list what it accumulates into
            buf = buffers[key]
            dims = []
            for hull, extent in zip(sets, buf.shape):
                size = canonical(hull.max - hull.min + 1)
                dims.append(Range(hull.min, size) if isinstance(size, IntImm) else Range(const(0, dt.INDEX), extent))
            regions.append(BufferRegion(buf, tuple(dims)))
        out[kind] = tuple(regions)
    return out["reads"], out["writes"]
