r"""What the source rewrite of :mod:`.autograph` asks of a block of statements: the names it
assigns, whether it holds a node kind, leaves its loop, has effects on Python objects, or
always returns.

>>> import ast
>>> body = ast.parse("x = x + 1\nif c:\n    break\ny[0] = 2").body
>>> assigned(body), loop_exits(body), has_effects(body)
(['x', 'y'], True, False)
"""
from __future__ import annotations

import ast
import builtins

__all__ = ["HELPER", "BUILTINS", "assigned", "has_node", "loop_exits", "has_effects", "ends_with_return",
           "effect_free_function", "helper_arguments", "nested_ranges"]

#: The name the rewritten code calls :mod:`.autograph_runtime` by (and the prefix of the names
#: it makes, which are no user's variables).
HELPER = "ag__"



class _Assigned(ast.NodeVisitor):
    """The names a block assigns (its own scope: not inside nested functions, lambdas and
    comprehensions), in order of first assignment. A name written in place (``x[i] = v``,
    ``x += v``) counts: its array gets a new version."""

    def __init__(self):
        self.names: dict[str, None] = {}

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.setdefault(node.id, None)

    def visit_Subscript(self, node):
        if isinstance(node.ctx, ast.Store):
            base = node.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                self.names.setdefault(base.id, None)
        self.generic_visit(node)

    def visit_Call(self, node):
        """``np.add(x, y, out=x)``, ``np.copyto(x, y)``, ``x.fill(v)``: ``x`` is written in place."""
        targets = [k.value for k in node.keywords if k.arg == "out"]
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "copyto" and node.args:
            targets.append(node.args[0])
        if isinstance(func, ast.Attribute) and func.attr == "fill":
            targets.append(func.value)
        for t in targets:
            for name in (t.elts if isinstance(t, ast.Tuple) else [t]):
                if isinstance(name, ast.Name):
                    self.names.setdefault(name.id, None)
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self.names.setdefault(node.name, None)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node):
        pass

    def visit_ListComp(self, node):
        pass

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

    def visit_Import(self, node):
        for alias in node.names:
            self.names.setdefault((alias.asname or alias.name).split(".")[0], None)

    visit_ImportFrom = visit_Import


def assigned(stmts) -> list[str]:
    finder = _Assigned()
    for s in stmts:
        finder.visit(s)
    return [n for n in finder.names if not n.startswith(HELPER)]


def has_node(stmts, kinds, stop=(ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)) -> bool:
    """Whether ``stmts`` hold a node of ``kinds`` (not looking into nested scopes)."""
    stack = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, kinds):
            return True
        if isinstance(node, stop):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def loop_exits(stmts) -> bool:
    """Whether ``stmts`` (a loop's body) hold a break or continue of this loop."""
    stack = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Break, ast.Continue)):
            return True
        if isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                             ast.ClassDef)):
            if isinstance(node, (ast.For, ast.While)):
                stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def has_effects(stmts) -> bool:
    """Whether a loop body has statements run for their effects on Python objects (a bare call
    such as ``out.append(v)`` or ``print(v)``, ``global``/``nonlocal``, ``yield``, ``del``): such a
    loop runs as Python (once per iteration), since a compiled loop would run them once."""
    for node in ast.walk(ast.Module(list(stmts), type_ignores=[])):
        if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
            if not _helper_call(node.value):
                return True
        if isinstance(node, (ast.Global, ast.Nonlocal, ast.Yield, ast.YieldFrom, ast.Delete)):
            return True
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):  # obj.attr = v
            return True
    return False


def _helper_call(node) -> bool:
    """Whether ``node`` is a bare call of a function by its plain name that is no builtin
    (``update(p, b)``): the rewrite makes it ``ag__.helper_stmt``, which checks when it runs
    that the function has no effects on Python objects (:func:`stores_only_into`)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in ("helper_stmt", "array_stmt") \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == HELPER:
        return True  # one the rewrite made already
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
        not node.func.id.startswith(HELPER) and node.func.id not in BUILTINS


def helper_arguments(stmts) -> list[str]:
    """The plain names passed to the functions ``stmts`` call as statements of their own
    (``update(p, b)`` may write into ``p``), and those whose methods they call so (``a.sort()``),
    not looking into nested scopes, in order."""
    out: dict[str, None] = {}
    stack = list(stmts)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Expr) and _helper_call(node.value):
            call = node.value
            args = call.args[1:] if isinstance(call.func, ast.Attribute) else call.args  # ag__.helper_stmt(f, ...)
            if isinstance(call.func, ast.Attribute) and call.func.attr == "array_stmt" \
                    and isinstance(call.args[0], ast.Attribute) and call.args[0].attr in IN_PLACE_METHODS:
                args = [call.args[0].value, *args]  # ag__.array_stmt(a.sort): the method writes into a
            for a in [*args, *(k.value for k in call.keywords)]:
                if isinstance(a, ast.Name) and not a.id.startswith(HELPER):
                    out.setdefault(a.id, None)
        stack.extend(ast.iter_child_nodes(node))
    return list(out)


#: The methods of NumPy's arrays that write into the array (``a.sort()``, ``a.fill(0)``).
IN_PLACE_METHODS = frozenset({"sort", "fill", "put", "partition", "itemset", "resize", "setfield"})

#: Names of Python's builtins.
BUILTINS = frozenset(dir(builtins))


def effect_free_function(func: ast.FunctionDef) -> bool:
    """Whether the function ``func`` changes nothing but arrays: no effects of
    :func:`has_effects`, and every item assignment (``x[i] = v``, ``x += v``) into one of its
    parameters or of the names it binds itself (not a global's or a closure's)."""
    if has_effects(func.body):
        return False
    own = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
    for node in ast.walk(ast.Module(list(func.body), type_ignores=[])):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
    for node in ast.walk(ast.Module(list(func.body), type_ignores=[])):
        if isinstance(node, (ast.Subscript, ast.AugAssign)):
            target = node if isinstance(node, ast.Subscript) else node.target
            if isinstance(target, ast.Subscript) and not isinstance(target.ctx, ast.Store):
                continue
            base = target.value if isinstance(target, ast.Subscript) else target
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if not isinstance(base, ast.Name) or base.id not in own:
                return False
    return True


def ends_with_return(stmts) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and ends_with_return(last.body) and ends_with_return(last.orelse)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
#: The nodes a loop bound may hold to be evaluated ahead of its loop (no calls but ``len``).
_BOUND_NODES = (ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.BinOp,
                ast.UnaryOp, ast.operator, ast.unaryop, ast.expr_context)


def _loops(stmts):
    """The loops directly in ``stmts`` (inside branches and ``with``, not inside other loops or
    nested scopes)."""
    stack = list(reversed(stmts))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.For, ast.While)):
            yield node
        elif not isinstance(node, _SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _bound_free_of(arg, varying: set) -> bool:
    """Whether the loop bound ``arg`` can be evaluated before the loop around it: no name that
    the loop (or a loop inside it) assigns, no call but ``len``."""
    for n in ast.walk(arg):
        if isinstance(n, ast.Call):
            if not (isinstance(n.func, ast.Name) and n.func.id == "len" and len(n.args) == 1 and not n.keywords):
                return False
        elif isinstance(n, ast.Name):
            if n.id in varying:
                return False
        elif not isinstance(n, _BOUND_NODES):
            return False
    return True


def nested_ranges(loop: ast.For) -> list:
    r"""The loop nest inside ``loop`` whose trip counts are known before it runs: a list of
    ``(args, inner)``, one per loop directly in its body, ``args`` the arguments of that
    loop's ``range`` (None where its trip count depends on ``loop``'s iteration, or it is no
    ``range``), ``inner`` the same list for that loop's body.

    >>> loop = ast.parse("for i in range(2):\n for j in range(n):\n  for k in range(i): pass").body[0]
    >>> [(ast.unparse(a[0]), [b for b, _ in inner]) for a, inner in nested_ranges(loop)]
    [('n', [None])]
    """
    varying = set(assigned(loop.body)) | set(assigned([loop.target]))

    def walk(stmts):
        out = []
        for inner in _loops(stmts):
            args = None
            it = getattr(inner, "iter", None)
            if (isinstance(inner, ast.For) and isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                    and it.func.id == "range" and not it.keywords and 1 <= len(it.args) <= 3
                    and all(_bound_free_of(a, varying) for a in it.args)):
                args = list(it.args)
            out.append((args, walk(inner.body)))
        return out
    return walk(loop.body)
