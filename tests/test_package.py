"""The package itself: what `import mlc` loads."""

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
