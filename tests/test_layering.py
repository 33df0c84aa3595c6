"""mlc's packages form layers: each imports only its own package and the layers below it.

An AST walk over every import in ``mlc/`` (module level and inside functions;
``if TYPE_CHECKING:`` blocks skipped) checks

- that every module belongs to a layer of :data:`LAYERS` (a new package is
  placed there first), and imports go down the layers only, packages of one
  layer being independent of each other;
- the contracts between stages, spelled out in :data:`RULES` (the IR imports
  nothing above it, passes neither schedules nor backends, backends import no
  schedules, the runtime imports neither the tracer nor the backends, ...);
- that the module-level imports of the whole package form no cycle;
- that an import inside a function says why it is there: a comment on its
  line or the line above saying it keeps something fast (``# deferred: keeps
  `import mlc` fast``), or an entry in :data:`DEFERRED`. An import deferred
  only to dodge a cycle is a layering bug: move the code to the right layer.

:data:`IN_FLIGHT` lists the imports that break these rules today, each
being removed by work under way; an entry that no longer exists fails
:func:`test_the_exceptions_listed_here_still_exist`, so the list only shrinks.
"""
import ast
import functools
import pathlib
import re

import pytest

import mlc

from .ir.test_layers import DEFERRED_UP as IR_DEFERRED_UP

PACKAGE = pathlib.Path(mlc.__file__).parent

#: mlc's units (packages, and the modules directly in mlc/), bottom to top. A unit imports
#: its own modules and units of lower layers; units sharing a layer do not import each other.
LAYERS = [
    {"errors"},                      # ground: the error types
    {"frozen"},                      # ground: @frozen, the dataclass of nodes and value types
    {"version"},                     # ground: the package version (the object cache keys on it)
    {"dependencies"},                # ground: the NumPy and llvmlite versions mlc needs
    {"config"},                      # ground: the configuration, read once
    {"shared_change"},               # ground: process-wide state changed while any user holds it
    {"target"},                      # ground: Target (device kind, CPU features, CUDA arch)
    {"ir"},                          # what every stage speaks
    {"ops", "runtime"},              # the op registry; modules, devices and arrays
    {"passes"},                      # graph and TIR passes
    {"schedules"},                   # Schedule, its primitives, default rules
    {"backends"},                    # the registry and the code generators
    {"driver"},                      # build(): the stages in order
    {"tune"},                        # search, cost model, database: calls the driver
    {"tracer", "graph"},             # @jit; the user-facing graph API
    {"numpy"},                       # mlc.numpy, and Tracer's array methods
    {"custom_op", "frontend", "script", "random", "cache", "transforms"},  # (cache: mlc.cache, the disk caches' info and clear)
    {"nn", "optim"},                 # network functions (their parameters drawn with mlc.random), optimizers
    {"testing"},
    {"__init__"},                    # the public API, re-exported
]

#: (importer, imported, why): the contracts between stages, as module-name prefixes.
#: The layers imply most of them; each is checked on its own so its message says which broke.
RULES = [
    ("mlc.ir", "mlc.ops", "the IR imports nothing above it"),
    ("mlc.passes", "mlc.schedules", "passes import no schedules"),
    ("mlc.passes", "mlc.backends", "passes import no backends"),
    ("mlc.schedules", "mlc.backends", "schedules import no backends: default rules reach them "
                                      "through the driver"),
    ("mlc.backends", "mlc.schedules", "backends import no schedules: the driver hands them the "
                                      "scheduled module and the target, and picks the default rules"),
    ("mlc.backends", "mlc.driver", "backends never import the driver"),
    ("mlc.runtime", "mlc.tracer", "the runtime does not import the tracer"),
    ("mlc.runtime", "mlc.backends", "the runtime does not import the backends"),
    ("mlc.tracer", "mlc.numpy", "the tracer does not import mlc.numpy (which attaches Tracer's methods)"),
]

#: Imports that break a rule above today, each being removed by work under way. When that work
#: lands, delete its lines here (the last test fails until then).
IN_FLIGHT: set[tuple[str, str]] = set()

#: Imports inside functions kept on purpose, with why (besides those commented "keeps ... fast");
#: the layers let these through too.
DEFERRED = {
    # a graph's .script() asks the graph printer, which imports the graph's nodes
    ("mlc.ir.graph", "mlc.ir.graph_printer"): "a node asks the printer",
    # CustomOp.check is mlc.testing's property test, offered as a method of the op
    ("mlc.custom_op", "mlc.testing.check"): "a convenience method calling up",
}

#: Imports inside functions in modules being rewritten by work under way (the compile driver
#: rewrites jit.py, backends/__init__.py and the default rules' Target lookup; the graph runtime
#: rewrites tracer/compile.py and runtime/graph_executor.py; vectorization rewrites vectorize.py).
DEFERRED_IN_FLIGHT: set[tuple[str, str]] = set()

_KEEPS_FAST = re.compile(r"#.*\bkeeps?\b.*\bfast\b")


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: pathlib.Path):
    """(imported mlc module, inside a function?, line) for every import in ``path``."""
    module, is_package = _module(path), path.name == "__init__.py"
    text = path.read_text()
    out = []

    def base(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[:len(parts) - node.level + 1]
        return ".".join(parts + ([node.module] if node.module else []))

    def walk(body, in_function):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                out.extend((a.name, in_function, node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                b = base(node)
                for a in node.names:  # `from pkg import module` imports pkg.module
                    out.append((f"{b}.{a.name}" if _is_module(f"{b}.{a.name}") else b, in_function,
                                node.lineno))
            inner_function = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.AST):
                    walk(inner, inner_function)

    walk(ast.parse(text).body, False)
    return [(m, f, line) for m, f, line in dict.fromkeys(out) if m == "mlc" or m.startswith("mlc.")]


@functools.cache
def _edges():
    """(importer, imported, inside a function?, path, line) over the whole package: parsed
    once per process, by the first test that asks (not at import, which every worker does
    while collecting)."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _module(path)
        edges.extend((src, imported, fn, path, line) for imported, fn, line in _imports(path))
    return edges


@pytest.fixture
def edges():
    return _edges()


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _ir_unit(module: str) -> str | None:
    """The unit of an mlc.ir module in tests/ir/test_layers.py's layers ('arith' for mlc.ir.arith.x)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else None


def _rank(unit: str) -> int | None:
    return next((n for n, layer in enumerate(LAYERS) if unit in layer), None)


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _listed(src: str, imported: str, table) -> bool:
    return any(src == a and _under(imported, b) for a, b in table)


def test_every_module_belongs_to_a_layer():
    units = {_unit(_module(p)) for p in PACKAGE.rglob("*.py")}
    assert {u for u in units if _rank(u) is None} == set(), "place new packages in LAYERS"


def test_imports_go_down_the_layers(edges):
    wrong = []
    for src, imported, _, path, line in edges:
        a, b = _unit(src), _unit(imported)
        if a == b or _listed(src, imported, IN_FLIGHT) or (src, imported) in DEFERRED:
            continue
        if _rank(b) >= _rank(a):
            wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {src} imports {imported}, "
                         f"{'a layer above it' if _rank(b) > _rank(a) else 'in its own layer'}")
    assert not wrong, "\n".join(wrong)


def test_the_contracts_between_stages_hold(edges):
    broken = [f"{path.relative_to(PACKAGE.parent)}:{line}: {src} imports {imported}: {why}"
              for src, imported, _, path, line in edges
              for importer, forbidden, why in RULES
              if _under(src, importer) and _under(imported, forbidden)
              and not _listed(src, imported, IN_FLIGHT)]
    assert not broken, "\n".join(broken)


def test_module_level_imports_form_no_cycle(edges):
    graph: dict[str, set[str]] = {}
    for src, imported, in_function, _, _ in edges:
        if not in_function:
            graph.setdefault(src, set()).add(imported)
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if _under(nxt, node):
                continue  # a package importing its own modules
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_imports_inside_functions_say_why(edges):
    lines = {}
    unexplained = []
    for src, imported, in_function, path, line in edges:
        if not in_function:
            continue
        text = lines.setdefault(path, path.read_text().splitlines())
        if _KEEPS_FAST.search(text[line - 1]) or _KEEPS_FAST.search(text[line - 2]):
            continue
        if (src, imported) in DEFERRED or _listed(src, imported, DEFERRED_IN_FLIGHT):
            continue
        if _unit(src) == _unit(imported) == "ir" and _ir_unit(src) and _ir_unit(imported) and \
                (_ir_unit(src), _ir_unit(imported)) in IR_DEFERRED_UP:
            continue  # listed with the IR's own layers (tests/ir/test_layers.py)
        unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {src} imports {imported} "
                           "inside a function")
    assert not unexplained, ("move these imports to module level (fixing the layering if they dodge "
                             "a cycle), or say why they wait: '# deferred: keeps `import mlc` fast'\n"
                             + "\n".join(unexplained))


def test_the_exceptions_listed_here_still_exist(edges):
    """Each IN_FLIGHT/DEFERRED entry names an import that exists: delete the lines work has removed."""
    present = {(src, imported) for src, imported, _, _, _ in edges}
    for table in (IN_FLIGHT, DEFERRED, DEFERRED_IN_FLIGHT):
        stale = {(a, b) for a, b in table if not any(s == a and _under(i, b) for s, i in present)}
        assert not stale, f"no longer imported, delete from this file: {sorted(stale)}"
