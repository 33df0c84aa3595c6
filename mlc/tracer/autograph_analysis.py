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

__all__ = ["HELPER", "assigned", "has_node", "loop_exits", "has_effects", "ends_with_return"]

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
            return True
        if isinstance(node, (ast.Global, ast.Nonlocal, ast.Yield, ast.YieldFrom, ast.Delete)):
            return True
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):  # obj.attr = v
            return True
    return False


def ends_with_return(stmts) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and ends_with_return(last.body) and ends_with_return(last.orelse)
