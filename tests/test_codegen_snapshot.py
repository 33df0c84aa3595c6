"""``tools/codegen_snapshot.py`` writes the LLVM IR of its pinned CPUs on any machine: it emits
the code without loading it, so a CPU this machine cannot run (AVX-512 on an AVX2 host) is
described all the same, and its kernels are those ``mlc.build`` loads where it can."""
import importlib.util
import re
from pathlib import Path

import numpy as np

import mlc
from mlc.target import Target

_TOOL = Path(__file__).resolve().parents[1] / "tools" / "codegen_snapshot.py"


def _tool():
    spec = importlib.util.spec_from_file_location("codegen_snapshot", _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kernels(ir_text: str) -> dict[str, str]:
    """The bodies of the ``fused_*`` kernels defined in ``ir_text``, attribute numbers aside."""
    found = re.findall(r"^define [^\n]*@(fused_\w+)\(([^\n]*)\{\n(.*?)\n\}", ir_text, re.M | re.S)
    return {name: re.sub(r"#\d+", "#", head + body) for name, head, body in found}


def _widest(ir_text: str) -> int:
    return max(int(n) for n in re.findall(r"<(\d+) x float>", ir_text))


def test_the_pinned_cpus_code_is_written_on_any_machine():
    tool = _tool()
    fn, specs = tool.WORKLOADS["add"]
    wide = tool.cpu_source(fn, specs, tool.CPU_TARGETS["skylake-avx512"])
    narrow = tool.cpu_source(fn, specs, tool.CPU_TARGETS["haswell"])
    assert _widest(wide) > _widest(narrow)  # 512-bit vectors against 256-bit ones
    target = Target("llvm")  # this machine's: loaded by mlc.build, emitted by the tool alike
    emitted = tool.cpu_source(fn, specs, target)
    args = [np.zeros(shape, dtype) for shape, dtype in specs]
    loaded = mlc.jit(target=target)(fn).lower(*args).compile().lib.get_source("ll")
    assert _kernels(emitted) and _kernels(emitted) == _kernels(loaded)
