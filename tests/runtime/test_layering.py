"""mlc.runtime knows modules, devices and arrays: it imports neither the tracer nor the backends
(nor anything else above it), at module level or inside a function."""
import ast
import pathlib

import mlc

RUNTIME = pathlib.Path(mlc.__file__).parent / "runtime"
#: What the runtime may import from mlc: the IR it describes functions with, errors, config.
ALLOWED = ("mlc.ir", "mlc.errors", "mlc.config", "mlc.runtime", "mlc.version")  # mlc.version: one string, no imports


def imported_modules(path: pathlib.Path):
    """(line, absolute module name) of every mlc import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "mlc.runtime".split(".")[:len("mlc.runtime".split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield node.lineno, module


def test_runtime_imports_neither_the_tracer_nor_the_backends():
    files = sorted(RUNTIME.glob("*.py"))
    assert files
    bad = [f"{path.name}:{line}: {module}" for path in files for line, module in imported_modules(path)
           if module.startswith("mlc") and not module.startswith(ALLOWED)]
    assert not bad, bad


def test_the_check_sees_a_forbidden_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from ..backends import build\n    from ..tracer.pytree import flatten\n")
    assert [m for _, m in imported_modules(path)] == ["mlc.backends", "mlc.tracer.pytree"]
