"""mlc/ir/ is layered: dtypes and tensor types -> the scalar-op table and the node decorator -> nodes -> functor -> printer/structural -> arith -> analysis,
with the te and graph front ends on top; it imports nothing of mlc above it.

An AST walk over every import in the package (module level and inside
functions): module-level imports go down the layers only and form no cycle;
an import inside a function may go up only where it is listed below (a node's
``__repr__`` asking the printer, and the like), so no new cycle can creep in.
"""
import ast
import pathlib

import mlc

IR = pathlib.Path(mlc.__file__).parent / "ir"

LAYERS = [
    {"dtype", "types", "threefry", "erfinv", "names", "warpgroup_mma"},
    {"ops", "node"},
    {"expr", "buffer", "tir", "calls", "extern"},
    {"functor"},
    {"printer", "structural"},
    {"arith"},
    {"analysis", "shape_vars", "range_mutator"},
    {"te", "graph", "graph_printer", "control", "__init__"},
    {"te_autodiff"},
]

#: mlc modules outside mlc.ir that mlc.ir may import: the error types and the frozen
#: dataclass decorator, below everything.
BELOW_IR = {"mlc.errors", "mlc.frozen"}

#: Imports inside functions that go up the layers (each closes a cycle through a call).
DEFERRED_UP = {
    ("expr", "printer"), ("expr", "functor"), ("buffer", "printer"), ("buffer", "arith"),
    ("tir", "printer"), ("tir", "structural"), ("structural", "functor"), ("structural", "tir"),
}

def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(IR.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path):
    """(imported module, at module level?) for every import of ``path`` (TYPE_CHECKING blocks skipped)."""
    module, is_package = _module(path), path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    out = []

    def target(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module
        base = module.split(".")
        if not is_package:
            base = base[:-1]
        base = base[:len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def walk(body, top):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                out.extend((a.name, top) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                t = target(node)
                out.extend((f"{t}.{a.name}" if t.startswith("mlc") else t, top) for a in node.names)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.AST):
                    deeper = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                    walk(inner, deeper)

    walk(tree.body, True)
    return [(m, top) for m, top in out if m.startswith("mlc")]


def _unit(module: str) -> str | None:
    """The layer unit of an mlc.ir module: its first name under mlc.ir ('arith' for mlc.ir.arith.rewrite)."""
    parts = module.split(".")
    if parts[:2] != ["mlc", "ir"]:
        return None
    return parts[2] if len(parts) > 2 else "__init__"


def _rank(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def _graph():
    files = sorted(IR.rglob("*.py"))
    edges = []
    for path in files:
        src = _module(path)
        for imported, top in _imports(path):
            edges.append((src, imported, top))
    return files, edges


def test_every_ir_module_has_a_layer():
    files, _ = _graph()
    for path in files:
        assert _rank(_unit(_module(path))) is not None


def test_ir_imports_nothing_above_it():
    _, edges = _graph()
    def under(module, names):
        return any(module == n or module.startswith(n + ".") for n in names)

    upward = {(_unit(src), imported) for src, imported, _ in edges
              if _unit(imported) is None and not under(imported, BELOW_IR)}
    assert not upward, upward


def test_module_level_imports_go_down_the_layers_without_cycles():
    _, edges = _graph()
    graph: dict[str, set[str]] = {}
    for src, imported, top in edges:
        if not top or _unit(imported) is None:
            continue
        a, b = _unit(src), _unit(imported)
        if a != b:
            assert _rank(b) <= _rank(a), f"{src} imports {imported}, a layer above it"
        # within the package, resolve `from .x import y` to the module x.y when it is one
        target = imported if (IR.parent.parent / (imported.replace(".", "/") + ".py")).exists() or \
            (IR.parent.parent / imported.replace(".", "/")).is_dir() else imported.rsplit(".", 1)[0]
        graph.setdefault(src, set()).add(target)
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if nxt == node or nxt.startswith(node + "."):
                continue  # a package importing its own modules
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path + [nxt])}")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [node])


def test_imports_inside_functions_go_up_only_where_listed():
    _, edges = _graph()
    up = set()
    for src, imported, top in edges:
        a, b = _unit(src), _unit(imported)
        if top or b is None or a == b:
            continue
        if _rank(b) > _rank(a):
            up.add((a, b))
    assert up <= DEFERRED_UP, up - DEFERRED_UP
    assert not any(a in ("arith", "analysis") for a, _ in up)  # the top layers need no deferred import
