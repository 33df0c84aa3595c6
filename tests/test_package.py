"""The package itself: what `import mlc` loads."""
import pytest

import mlc


def test_import_mlc_is_light_and_the_rest_loads_on_use():
    """The tracer, schedules, mlc.numpy and mlc.nn load on first attribute access."""
    import subprocess
    import sys
    code = ("import sys, mlc\n"
            "heavy = [m for m in ('mlc.tracer', 'mlc.schedules', 'mlc.numpy', 'mlc.nn') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert mlc.jit is sys.modules['mlc.tracer'].jit and mlc.Schedule.__name__ == 'Schedule'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_namespace_holds_only_the_api_and_subpackages():
    """No helper imported by ``mlc/__init__.py`` (``import_module``) leaks as ``mlc.<name>``."""
    import types

    import mlc
    public = {n for n in dir(mlc) if not n.startswith("_")}
    leaked = {n for n in public - set(mlc.__all__)
              if not isinstance(getattr(mlc, n), types.ModuleType)}
    assert not leaked, leaked
    assert not hasattr(mlc, "import_module")


@pytest.mark.parametrize("package", ["numpy", "llvmlite"])
def test_setup_requires_the_versions_mlc_checks_for(package):
    """setup.py's floors are the ones mlc names when it finds an older NumPy or llvmlite."""
    import re
    from pathlib import Path

    from mlc.dependencies import LLVMLITE_MINIMUM, NUMPY_MINIMUM, check_version
    minimum = {"numpy": NUMPY_MINIMUM, "llvmlite": LLVMLITE_MINIMUM}[package]
    setup = (Path(__file__).parent.parent / "setup.py").read_text()
    floor = re.search(rf'"{package}>=([\d.]+)"', setup).group(1)
    assert tuple(int(n) for n in floor.split(".")) == minimum
    check_version(package, floor, minimum, "this")
    older = f"{minimum[0]}.{minimum[1] - 1}.9"
    with pytest.raises(mlc.MLCError, match=rf"needs {package} {floor} or newer .* found {package} {re.escape(older)}"):
        check_version(package, older, minimum, "this")


def test_an_old_numpy_is_named_at_import():
    """``import mlc`` under a NumPy older than the floor says which and what to install."""
    import subprocess
    import sys
    code = ("import numpy\nnumpy.__version__ = '1.26.4'\n"
            "try:\n    import mlc\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.startswith("MLCError mlc needs numpy 2.3 or newer") and "found numpy 1.26.4" in out
