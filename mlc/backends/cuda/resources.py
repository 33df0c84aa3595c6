"""What each compiled kernel uses of the GPU, as ptxas reports it (``ptxas -v``, run by NVRTC:
no GPU and no CUDA toolkit needed): registers per thread, spills to local memory, stack,
static shared memory and barriers.

A default schedule that spills registers, or declares other shared memory than its tiles
need, is slower on every GPU; these figures are checked on every run.

>>> from mlc import te
>>> import mlc
>>> A = te.placeholder((1024,), "float32", "A")
>>> B = te.compute((1024,), lambda i: A[i] * 2, "B")
>>> from mlc.backends.cuda import compile_sources
>>> from mlc.driver import schedule_module
>>> code, _ = compile_sources(schedule_module(mlc.IRModule({"double": te.create_prim_func([A, B])}), "cuda"))
>>> (r,) = kernel_resources(code, "sm_80").values()
>>> r.kernel, r.spill_stores, r.shared_bytes
('double_kernel', 0, 0)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import CompileError
from .nvrtc import compile_log

__all__ = ["KernelResources", "kernel_resources"]


@dataclass(frozen=True)
class KernelResources:
    """One kernel's use of the GPU for one architecture (bytes, registers per thread)."""
    kernel: str
    arch: str
    registers: int
    spill_stores: int
    spill_loads: int
    stack_bytes: int
    shared_bytes: int
    barriers: int

    @property
    def spills(self) -> bool:
        return self.spill_stores > 0 or self.spill_loads > 0


_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '([^']+)'")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_BARRIERS = re.compile(r"used (\d+) barriers")
_SMEM = re.compile(r"(\d+) bytes smem")


def kernel_resources(source: str, arch: str = "sm_80") -> dict[str, KernelResources]:
    """Kernel name -> :class:`KernelResources` of CUDA C ``source`` compiled for ``arch``."""
    log = compile_log(source, arch, ("-Xptxas", "-v"))
    found: dict[str, dict] = {}
    current = None
    for line in log.splitlines():
        m = _ENTRY.search(line)
        if m:
            current = found.setdefault(m.group(1), {"arch": m.group(2)})
            continue
        if current is None:
            continue
        m = _FRAME.search(line)
        if m:
            current["stack_bytes"], current["spill_stores"], current["spill_loads"] = map(int, m.groups())
        m = _USED.search(line)
        if m:
            current["registers"] = int(m.group(1))
            b, s = _BARRIERS.search(line), _SMEM.search(line)
            current["barriers"] = int(b.group(1)) if b else 0
            current["shared_bytes"] = int(s.group(1)) if s else 0
    out = {}
    for name, f in found.items():
        if "registers" not in f or "spill_stores" not in f:
            raise CompileError(f"kernel_resources: ptxas reported no resource usage for {name}:\n{log}", source)
        out[name] = KernelResources(name, f["arch"], f["registers"], f["spill_stores"], f["spill_loads"],
                                    f["stack_bytes"], f["shared_bytes"], f["barriers"])
    return out
