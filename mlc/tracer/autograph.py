"""Python control flow on traced values, captured as graph loops and conditionals by rewriting the source.

``@mlc.jit`` traces a function by running it on Tracers; a Python ``if`` or
``while`` on a traced value cannot run (its truth is known only when the
compiled code runs), and a ``for`` loop runs once per iteration, each
recording its ops again. Before tracing, the jit rewrites the function's
source (TensorFlow's AutoGraph is the model): each ``if``/``while``/``for``
becomes a call of a helper of :mod:`.autograph_runtime` with the statement's
blocks as local functions of the variables they assign:

.. code-block:: python

    while np.max(np.abs(x * x - a)) > tol:        def while_cond_3(x):
        x = 0.5 * (x + a / x)                         return np.max(np.abs(x * x - a)) > tol
                                         ──▶      def while_body_3(x):
                                                      x = 0.5 * (x + a / x)
                                                      return (x,)
                                                  (x,) = ag__.while_stmt(while_cond_3, while_body_3,
                                                                         ag__.values(lambda: x), ('x',), 3)

At run time the helper runs the statement as Python where its condition is a
Python value (static arguments, shapes), and records a loop or conditional of
the graph (:mod:`.control_flow`) where it is traced. The rewritten code keeps
the file name and line numbers of the source, so every error and every
traced op names the user's line. ``x if c else y``, ``and``/``or``/``not``
and ``max``/``min`` of several values are rewritten the same way.

A function whose source cannot be read (defined in a REPL, a lambda) is
traced as it is.

>>> def clip(x, limit):
...     if x.sum() > limit:
...         x = x * 0.5
...     return x
>>> print(converted_source(clip))
def clip(x, limit):
    def ag__if_true_2_1(x):
        x = x * 0.5
        return (x,)
    def ag__if_false_2_2(x):
        pass
        return (x,)
    x, = ag__.if_stmt(x.sum() > limit, ag__if_true_2_1, ag__if_false_2_2, ag__.values(lambda: x), ('x',), 2)
    return x
"""
from __future__ import annotations

import ast
import copy
import functools
import inspect
import os
import textwrap
import types

from . import autograph_runtime
from .autograph_analysis import HELPER as _HELPER
from .autograph_scalars import SCALAR_ATTRIBUTES
from .autograph_analysis import (_helper_call, assigned, ends_with_return, has_effects, has_node, helper_arguments, loop_exits,
                                 nested_ranges)

__all__ = ["convert", "converted_source"]



def convert(fn):
    """``fn`` with its control flow rewritten (see the module), or ``fn`` itself when its
    source is unavailable or it needs no rewriting."""
    if not isinstance(fn, types.FunctionType) or fn.__code__.co_filename.startswith(_OWN):
        return fn
    if _HELPER in fn.__code__.co_freevars:  # defined inside a converted function: converted with it
        return fn
    cached = _CACHE.get(fn.__code__)
    if cached is None:
        cached = _CACHE[fn.__code__] = _compile(fn)
    if cached is _UNCHANGED:
        return fn
    code, freevars = cached
    closure = fn.__closure__ or ()
    values = [c.cell_contents if _filled(c) else autograph_runtime.UNDEFINED for c in closure]
    cells = dict(zip(fn.__code__.co_freevars, values))
    factory = types.FunctionType(code, fn.__globals__)
    new = factory(autograph_runtime, *[cells.get(name, autograph_runtime.UNDEFINED) for name in freevars])
    new.__defaults__, new.__kwdefaults__ = fn.__defaults__, fn.__kwdefaults__
    functools.update_wrapper(new, fn)
    return new


def converted_source(fn) -> str:
    """The rewritten source of ``fn`` (for reading; ``convert`` compiles the same tree)."""
    tree = _tree(fn)
    if tree is None:
        raise ValueError(f"the source of {fn!r} is not available, or it has no control flow to rewrite")
    return "\n".join(line for line in ast.unparse(tree.body[0].body[0]).splitlines() if line.strip())


autograph_runtime._CONVERT[0] = convert  # the functions a converted function calls are converted too

_CACHE: dict = {}
#: names called as they are (Python's builtins)
_BUILTIN_NAMES = frozenset(dir(__import__("builtins")))
#: mlc's own functions (mlc.numpy's, run eagerly through a jit) are written for tracing: those
#: of the package's files (an example in a docstring of one of them is the user's code)
_OWN = os.path.dirname(os.path.dirname(__file__)) + os.sep
_UNCHANGED = object()


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _tree(fn):
    """The factory module's tree: ``def factory__(ag__, *freevars): <converted fn>; return fn``."""
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError):
        return None
    source = textwrap.dedent("".join(lines))
    try:
        module = ast.parse(source)
    except SyntaxError:
        return None
    if not module.body or not isinstance(module.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) \
            or isinstance(module.body[0], ast.AsyncFunctionDef):
        return None
    func = module.body[0]
    if func.name != fn.__name__:  # a lambda: its line's source is the statement holding it
        return None
    func.decorator_list = []
    ast.increment_lineno(module, first - 1)
    transformer = _Transformer(_loads(func), _stores(func), _loop_spans(func), _nested_loads(func))
    func = transformer.visit(func)
    if not transformer.changed:
        return None
    freevars = list(fn.__code__.co_freevars)
    factory = ast.FunctionDef(
        name="factory__",
        args=ast.arguments(posonlyargs=[], args=[ast.arg(_HELPER)] + [ast.arg(n) for n in freevars],
                           kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[func, ast.Return(ast.Name(func.name, ast.Load()))], decorator_list=[], returns=None,
        type_params=[])
    tree = ast.Module([factory], type_ignores=[])
    _at_line(tree, func.lineno)
    tree.filename__ = filename
    return tree


def _compile(fn):
    tree = _tree(fn)
    if tree is None:
        return _UNCHANGED
    module = compile(tree, tree.filename__, "exec")
    factory = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return factory, list(fn.__code__.co_freevars)


# ------------------------------------------------------------------------- the rewrite


def _name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id_, ast.Store() if store else ast.Load())


def _helper(attr: str) -> ast.Attribute:
    return ast.Attribute(_name(_HELPER), attr, ast.Load())


def _call(attr: str, *args) -> ast.Call:
    return ast.Call(_helper(attr), list(args), [])


def _tuple(names, store: bool = False) -> ast.Tuple:
    return ast.Tuple([_name(n, store) for n in names], ast.Store() if store else ast.Load())


def _thunk(expr) -> ast.Lambda:
    """``lambda: expr``."""
    return ast.Lambda(ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]), expr)


def _values(names) -> ast.Call:
    """``ag__.values(lambda: a, lambda: b)``: the names' values, UNDEFINED where unbound."""
    return _call("values", *[_thunk(_name(n)) for n in names])


def _function(name: str, params, body, returns) -> ast.FunctionDef:
    body = list(body) or [ast.Pass()]
    if returns is not None:
        body = body + [ast.Return(returns)]
    return ast.FunctionDef(name=name, args=ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params],
                                                         kwonlyargs=[], kw_defaults=[], defaults=[]),
                           body=body, decorator_list=[], returns=None, type_params=[])


def _const(value) -> ast.Constant:
    return ast.Constant(value)


def _nest(ranges) -> ast.Tuple:
    """The loops inside a loop as the runtime weighs them (:func:`.autograph_runtime.nest_copies`):
    ``((lambda: (range args), (inner...)), ...)``, None for a loop whose trip count is not
    known before the loop around it runs (:func:`.autograph_analysis.nested_ranges`)."""
    return ast.Tuple([ast.Tuple([_const(None) if args is None else
                                 _thunk(ast.Tuple([copy.deepcopy(a) for a in args], ast.Load())),
                                 _nest(inner)], ast.Load()) for args, inner in ranges], ast.Load())


def _loads(tree) -> list[tuple[str, int]]:
    """(name, line) of every read of a variable in ``tree``: its loads, and the variables an
    augmented assignment updates (``v += 1`` reads ``v``, whose name the tree stores only)."""
    reads = [(n.id, n.lineno) for n in ast.walk(tree)
             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return reads + [(n.target.id, n.lineno) for n in ast.walk(tree)
                    if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)]


def _stores(func) -> list[tuple[str, int]]:
    """(name, line) of every assignment of a variable in ``func``."""
    return [(n.id, n.lineno) for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _last_line(node) -> int:
    """The last line of the statement ``node`` (its deepest part's, where the rewriting added
    nodes without an end)."""
    return max(getattr(n, "end_lineno", None) or getattr(n, "lineno", 0) for n in ast.walk(node))


def _loop_spans(func) -> list[tuple[int, int]]:
    """(first line, last line) of every loop in ``func``."""
    return [(n.lineno, n.end_lineno) for n in ast.walk(func) if isinstance(n, (ast.For, ast.While))]


def _nested_loads(func) -> set[str]:
    """The names read inside the functions, lambdas and classes ``func`` defines (which may run
    later than the line they stand on)."""
    inner = [n for body in func.body for n in ast.walk(body)
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))]
    return {name for scope in inner for name, _ in _loads(scope)}


class _Transformer(ast.NodeTransformer):
    """Rewrites ``if``/``while``/``for range`` statements and the expressions that test
    traced values (see the module). ``loads``: (name, line) of the function's reads."""

    def __init__(self, loads=(), stores=(), loops=(), nested_loads=frozenset()):
        self.loads, self.stores, self.loops, self.nested_loads = loads, stores, loops, nested_loads
        self.user_names = {n for n, _ in stores}  # (the variables the user's source assigns)
        self.kept_index: set[int] = set()  # lines of the for loops whose index is kept (_keeping_index)
        self.changed = False
        self.counter = 0
        self.depth = 0

    def _fresh(self, kind: str, node) -> str:
        self.counter += 1
        return f"{_HELPER}{kind}_{node.lineno}_{self.counter}"

    def _located(self, stmts, node):
        """``stmts`` (made for ``node``) on ``node``'s first line, where the user's code in them
        keeps its own lines."""
        for s in stmts:
            _at_line(s, node.lineno)
        return stmts

    # ---------------------------------------------------------------- functions

    def visit_FunctionDef(self, node):
        node.body = _fold_returns(node.body)
        self.depth += 1
        node.body = self._block(node.body)
        self.depth -= 1
        return node

    def _block(self, stmts):
        out = []
        for s in stmts:
            new = self.visit(s)
            out.extend(new if isinstance(new, list) else [new])
        return out

    # -------------------------------------------------------------------- if

    def visit_If(self, node):
        if len(node.body) == 1 and isinstance(node.body[0], ast.Raise) and node.body[0].exc is not None:
            # ``if bad: raise ValueError(...)``: checked when the function runs (raise_if)
            self.changed = True
            check = ast.Expr(_call("raise_if", self.visit(node.test), _thunk(self.visit(node.body[0].exc)),
                                   _const(node.lineno)))
            return self._located([check], node) + self._block(node.orelse)
        test = self.visit(node.test)
        body, orelse = self._block(node.body), self._block(node.orelse)
        returns = ends_with_return(node.body) and ends_with_return(node.orelse)
        if loop_exits(node.body + node.orelse) or (has_node(node.body + node.orelse, (ast.Return,))
                                                    and not returns):
            # a break, continue or return that leaves more than the if: kept as Python
            self.changed = True
            node.test = _call("python_test", test, _const("an if with break, continue or return inside"),
                              _const(node.lineno))
            node.body, node.orelse = body, orelse
            return node
        if returns:  # both branches return (_fold_returns made it so): the value is a result
            body, orelse = _set_return(body), _set_return(orelse)
        names = assigned(body + orelse)
        # (and the arrays a statement's call may write into: update(p, b), np.copyto(b, a), b.sort())
        names += [n for n in helper_arguments(body + orelse) if n not in names]
        if returns:
            names = [n for n in names if n != "ag__retval"] + ["ag__retval"]
        true_fn, false_fn = self._fresh("if_true", node), self._fresh("if_false", node)
        self.changed = True
        # the user's variables nothing reads after the if: the branches' own (if_stmt)
        unread = self._unread_after(node, names)
        stmts = [
            _function(true_fn, names, body, _tuple(names)),
            _function(false_fn, names, orelse, _tuple(names)),
            ast.Assign([_tuple(names, store=True)], _call(
                "if_stmt", test, _name(true_fn), _name(false_fn), _values(names),
                _const(tuple(names)), _const(node.lineno), *([_const(unread)] if unread else []))),
        ]
        if returns:
            stmts.append(ast.Return(_name("ag__retval")))
        return self._located(stmts, node)

    def visit_Assert(self, node):
        """``assert ok, message``: checked when the function runs where ``ok`` is traced."""
        self.generic_visit(node)
        self.changed = True
        message = node.msg if node.msg is not None else _const(None)
        return self._located([ast.Expr(_call("assert_", node.test, _thunk(message), _const(node.lineno)))], node)

    # ----------------------------------------------------------------- while

    def visit_While(self, node):
        if not node.orelse and loop_exits(node.body):
            return self._block(self._without_exits(node))
        if node.orelse:
            return self._python_loop(node, "a while loop with an else clause")
        test = self.visit(node.test)
        body = self._block(node.body)
        if has_node(body, (ast.Return,)):
            return self._python_loop(node, "a return inside a while loop", body)
        names = assigned(body)
        maybe = [n for n in helper_arguments(body) if n not in names]
        names = names + maybe
        cond_fn, body_fn = self._fresh("while_cond", node), self._fresh("while_body", node)
        self.changed = True
        outside = self._read_outside(node)
        read_outside = tuple(n for n in names if n in outside)
        stmts = [
            _function(cond_fn, names, [], test),
            _function(body_fn, names, body, _tuple(names)),
            ast.Assign([_tuple(names, store=True)], _call(
                "while_stmt", _name(cond_fn), _name(body_fn), _values(names), _const(tuple(names)),
                _const(node.lineno), _const(has_effects(node.body)), _const(len(maybe)),
                _const(read_outside))),
        ]
        return self._located(stmts, node)

    # ------------------------------------------------------------------- for

    def _read_after(self, name: str, node) -> bool:
        """Whether the function reads ``name`` after the statement ``node`` before assigning it
        again (by line numbers: a read on a later line than the statement, and not on or after
        the line of the next assignment)."""
        end = _last_line(node)
        again = min((line for n, line in self.stores if n == name and line > end), default=None)
        return any(n == name and line > end and (again is None or line < again) for n, line in self.loads)

    def _unread_after(self, node, names) -> tuple[str, ...]:
        """The user's variables among ``names`` that nothing reads once the statement ``node``
        ran: no read on a later line, on an earlier line inside a loop around it (the next
        iteration's), or inside a function, lambda or class the function defines (which may
        run later)."""
        end = _last_line(node)
        around = min((first for first, last in self.loops if first < node.lineno and end <= last),
                     default=node.lineno)
        read = {n for n, line in self.loads if line > end or around <= line < node.lineno}
        return tuple(n for n in names if n in self.user_names and n not in read and n not in self.nested_loads)

    def _read_outside(self, node) -> set[str]:
        """The names the function reads outside the statement ``node`` (on a line before it, as
        a loop around it may, or after it): where the statement leaves one unbound, such a read
        would see that."""
        end = _last_line(node)
        return {n for n, line in self.loads if not node.lineno <= line <= end}

    def _keeping_index(self, node):
        """``for it in range(n): ...`` whose index the function reads after the loop (``return x,
        it``, the iterations a solver took): the loop's last index kept in a variable the
        loop assigns, and the index bound to it after the loop, as Python leaves it (also
        where the loop is compiled, and where it breaks early)."""
        index = node.target.id
        self.kept_index.add(node.lineno)
        self.counter += 1
        last = f"index_{node.lineno}_{self.counter}__"
        node.body = [ast.copy_location(ast.Assign([_name(last, store=True)], _name(index)), node)] + node.body
        before = ast.Assign([_name(last, store=True)], _call("bound_or", _thunk(_name(index)), _const(0)))
        after = ast.Assign([_name(index, store=True)], _name(last))
        loop = self.visit(node)
        stmts = [before] + (loop if isinstance(loop, list) else [loop]) + [after]
        for s in (before, after):
            ast.copy_location(s, node)
            _at_line(s, node.lineno)
        return stmts

    def visit_For(self, node):
        if isinstance(node.target, ast.Name) and not node.orelse and node.lineno not in self.kept_index \
                and self._read_after(node.target.id, node):
            return self._keeping_index(node)
        it = node.iter
        is_range = (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                    and not it.keywords and 1 <= len(it.args) <= 3
                    and not any(isinstance(a, ast.Starred) for a in it.args))
        if not node.orelse and isinstance(node.target, ast.Name) and loop_exits(node.body):
            return self._block(self._without_exits(node))
        if node.orelse or not isinstance(node.target, ast.Name) or loop_exits(node.body):
            return self._python_loop(node, "")
        nest = _nest(nested_ranges(node))  # (before the body is rewritten)
        body = self._block(node.body)
        if has_node(body, (ast.Return,)):
            return self._python_loop(node, "", body)
        index = node.target.id
        names = [n for n in assigned(body) if n != index]
        maybe = [n for n in helper_arguments(body) if n not in names and n != index]
        names = names + maybe
        body_fn = self._fresh("for_body", node)
        self.changed = True
        read_after = tuple(n for n in names if self._read_after(n, node))
        tail = (_name(body_fn), _values(names), _const(tuple(names)), _const(node.lineno),
                _const(has_effects(node.body)), _const(len(maybe)), _const(read_after), nest)
        if is_range:  # range() of traced bounds: evaluated by the helper
            loop = _call("for_range", _name("range"), ast.Tuple([self.visit(a) for a in it.args], ast.Load()),
                         *tail)
        else:  # over a traced array's first axis, or any Python iterable
            loop = _call("for_iter", self.visit(it), *tail)
        stmts = [_function(body_fn, [index, *names], body, _tuple(names)),
                 ast.Assign([_tuple(names, store=True)], loop)]
        return self._located(stmts, node)

    def _without_exits(self, node):
        """A loop with ``break``/``continue`` as statements without them (AutoGraph's way): two
        flags say the loop broke and the iteration continued; the statements after an exit
        run under ``if not (broke or continued)``; a while loop tests ``not broke`` first, a
        for loop's iterations after a break do nothing."""
        self.counter += 1
        brk, cont = f"break_{node.lineno}_{self.counter}__", f"continue_{node.lineno}_{self.counter}__"
        body = [ast.Assign([_name(cont, store=True)], _const(False))] + _lower_exits(node.body, brk, cont)
        if isinstance(node, ast.While):
            loop = ast.While(ast.BoolOp(ast.And(), [ast.UnaryOp(ast.Not(), _name(brk)), node.test]), body, [])
        else:
            loop = ast.For(node.target, node.iter,
                           [ast.If(ast.UnaryOp(ast.Not(), _name(brk)), body, [])], [], None)
        stmts = [ast.Assign([_name(brk, store=True)], _const(False)), loop]
        for s in stmts:
            ast.copy_location(s, node)
        _at_line(loop, node.lineno)
        return stmts

    def _python_loop(self, node, why: str, body=None):
        """A loop kept as Python (its statements rewritten inside)."""
        node.body = body if body is not None else self._block(node.body)
        node.orelse = self._block(node.orelse)
        if isinstance(node, ast.While) and why:
            self.changed = True
            node.test = _call("python_test", self.visit(node.test), _const(why), _const(node.lineno))
        return node

    # ------------------------------------------------------------ expressions

    def visit_IfExp(self, node):
        self.generic_visit(node)
        self.changed = True
        return ast.copy_location(_call("if_exp", node.test, _thunk(node.body), _thunk(node.orelse),
                                       _const(node.lineno)), node)

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        self.changed = True
        return ast.copy_location(_call("and_" if isinstance(node.op, ast.And) else "or_", node.values[0],
                                       *[_thunk(v) for v in node.values[1:]]), node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            self.changed = True
            return ast.copy_location(_call("not_", node.operand), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("max", "min") and len(node.args) >= 1 \
                and not node.keywords:  # (max(*values) expands as Python's would)
            self.changed = True
            return ast.copy_location(_call("builtin_" + node.func.id, _name(node.func.id), *node.args), node)
        if isinstance(node.func, ast.Name) and node.func.id in ("float", "int", "bool", "complex") \
                and len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred):
            # float(x) of a traced x: a traced Python scalar (autograph_scalars)
            self.changed = True
            return ast.copy_location(_call("builtin_scalar", _name(node.func.id), *node.args), node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in SCALAR_ATTRIBUTES:
            # np.float32(x), math.sqrt(x) of a traced x (autograph_scalars)
            self.changed = True
            return ast.copy_location(ast.Call(_helper("scalar_call"), [node.func, *node.args], node.keywords),
                                     node)
        if isinstance(node.func, ast.Call):  # np.vectorize(f)(x), make_filter(k)(x): the made function's call
            self.changed = True
            return ast.copy_location(ast.Call(_helper("call"), [node.func, *node.args], node.keywords), node)
        if isinstance(node.func, ast.Name) and node.func.id not in _BUILTIN_NAMES \
                and not node.func.id.startswith(_HELPER):
            # a function of the user's (conv(x, w)): its own control flow is rewritten when called
            self.changed = True
            return ast.copy_location(ast.Call(_helper("call"), [node.func, *node.args], node.keywords), node)
        return node

    def visit_Subscript(self, node):
        """``np.r_[0.0, x, 0.0]``, ``np.c_[x, y]`` (NumPy's index tricks, which make an array of
        their items): a helper call, its slices made ``slice(...)`` objects."""
        self.generic_visit(node)
        if not (isinstance(node.value, ast.Attribute) and node.value.attr in ("r_", "c_")
                and isinstance(node.ctx, ast.Load)):
            return node
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        items = [ast.Call(_name("slice"), [k.lower or _const(None), k.upper or _const(None), k.step or _const(None)], [])
                 if isinstance(k, ast.Slice) else k for k in items]
        self.changed = True
        return ast.copy_location(_call("index_trick", node.value, ast.Tuple(items, ast.Load())), node)

    def visit_Expr(self, node):
        bare = _helper_call(node.value)
        self.generic_visit(node)
        call = node.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            return node
        if isinstance(call.func.value, ast.Name) and call.func.value.id.startswith(_HELPER):  # ag__.<helper>(...)
            if bare and call.func.attr == "call":
                call.func.attr = "helper_stmt"  # checked for effects where a compiled loop runs it
            return node
        # np.add(x, 1, out=x), a[::2].fill(0), x.sort(): checked too (array_stmt): a compiled
        # loop runs those that change only arrays, and refuses lst.append(v)
        self.changed = True
        node.value = ast.copy_location(ast.Call(_helper("array_stmt"), [call.func, *call.args], call.keywords), call)
        return node

    def visit_Lambda(self, node):
        return node  # expressions only; rewritten test expressions inside are left alone


def _lower_exits(stmts, brk: str, cont: str):
    """``stmts`` (a loop's body) with its ``break``/``continue`` (not those of loops inside)
    made assignments of the flags ``brk``/``cont``, and what follows an exit guarded by them."""
    out = []
    for k, s in enumerate(stmts):
        if isinstance(s, (ast.Break, ast.Continue)):
            flag = brk if isinstance(s, ast.Break) else cont
            out.append(ast.copy_location(ast.Assign([_name(flag, store=True)], _const(True)), s))
            return out
        if isinstance(s, ast.If) and loop_exits([s]):
            s.body, s.orelse = _lower_exits(s.body, brk, cont), _lower_exits(s.orelse, brk, cont)
            out.append(s)
            rest = stmts[k + 1:]
            if rest:
                go_on = ast.UnaryOp(ast.Not(), ast.BoolOp(ast.Or(), [_name(brk), _name(cont)]))
                guard = ast.If(go_on, _lower_exits(rest, brk, cont), [])
                ast.copy_location(guard, rest[0])
                _at_line(guard, rest[0].lineno)
                out.append(guard)
            return out
        out.append(s)
    return out


def _at_line(node, lineno: int) -> None:
    """Give the nodes under ``node`` that have no location one on a single line: the line of
    their nearest located ancestor (``lineno`` at the top). A one-line location matters: Python
    reports a method call at its attribute's last line (3.11), so a helper call located over a
    whole loop would name the loop's last line."""
    stack = [(node, lineno)]
    while stack:
        n, line = stack.pop()
        if isinstance(n, (ast.stmt, ast.expr, ast.excepthandler, ast.arg, ast.keyword)):
            if getattr(n, "lineno", None) is None:
                n.lineno, n.end_lineno, n.col_offset, n.end_col_offset = line, line, 0, 0
            line = n.lineno
        stack.extend((child, line) for child in ast.iter_child_nodes(n))


def _set_return(stmts):
    """A (rewritten) block that ends in ``return v`` with that return made ``ag__retval = v``
    (a rewritten if whose branches both return ends in ``return ag__retval``: the assignment
    it becomes is a no-op)."""
    out = list(stmts)
    last = out[-1]
    if isinstance(last, ast.Return):
        out[-1] = ast.copy_location(ast.Assign([_name("ag__retval", store=True)],
                                               last.value if last.value is not None else _const(None)), last)
    return out


def _fold_returns(stmts):
    """Move the statements after an ``if`` that returns into its branches that do not, so that
    an early return (``if c: return a`` ... ``return b``) becomes an if/else whose branches both
    return: ``if c: return a else: ...; return b``."""
    for k, s in enumerate(stmts):
        if isinstance(s, ast.If) and has_node(s.body + s.orelse, (ast.Return,)) and \
                not has_node(s.body + s.orelse, (ast.For, ast.While)):
            rest = stmts[k + 1:]
            body, orelse = _fold_returns(s.body), _fold_returns(s.orelse)
            if not ends_with_return(body):
                body = _fold_returns(body + [_copy(r) for r in rest])
            if not ends_with_return(orelse):
                orelse = _fold_returns(orelse + [_copy(r) for r in rest])
            if ends_with_return(body) and ends_with_return(orelse):
                s.body, s.orelse = body, orelse
                return stmts[:k] + [s]
            return stmts
    return stmts


def _copy(node):
    return copy.deepcopy(node)
