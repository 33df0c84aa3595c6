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


def test_setup_requires_the_llvmlite_the_backend_checks_for():
    """setup.py's llvmlite floor is the one the backend names when it finds an older one."""
    import re
    from pathlib import Path

    from mlc.backends.llvmlite_version import MINIMUM, check_llvmlite
    setup = (Path(__file__).parent.parent / "setup.py").read_text()
    floor = re.search(r'"llvmlite>=([\d.]+)"', setup).group(1)
    assert tuple(int(n) for n in floor.split(".")) == MINIMUM
    check_llvmlite(floor)
    older = f"{MINIMUM[0]}.{MINIMUM[1] - 1}.9"
    with pytest.raises(mlc.MLCError, match=rf"needs llvmlite {floor} or newer .* found llvmlite {re.escape(older)}"):
        check_llvmlite(older)
