"""The machine code (SASS) of a cubin, through ``cuobjdump -sass`` (the pip wheels
``nvidia-cuda-cuobjdump`` and ``nvidia-cuda-nvdisasm``; no GPU needed), and its loops.

What a schedule means to produce shows in its SASS: a cp.async pipeline issues
``LDGSTS``, fragments load with ``LDSM`` (``ldmatrix``), tensor cores run ``HMMA``,
and a kernel that spills registers reads and writes ``LDL``/``STL``.
:func:`loops` finds each loop as the instructions from a backward branch's
target to the branch, so a test can ask what the innermost (main) loop runs.

>>> text = '''
...         /*0000*/                   MOV R1, c[0x0][0x28] ;
...         /*0010*/                   LDGSTS.E.BYPASS.128 [R2], desc[UR4][R4.64] ;
...         /*0020*/                   HMMA.16816.F32 R8, R12, R16, R8 ;
...         /*0030*/              @P0 BRA 0x10 ;
...         /*0040*/                   EXIT ;'''
>>> [[i.split(".")[0] for i in loop] for loop in loops(text)]
[['LDGSTS', 'HMMA', 'BRA']]
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile

from ...errors import CompileError

__all__ = ["cuobjdump_path", "cuobjdump_unavailable_reason", "disassemble", "loops", "opcodes"]

_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")


@functools.cache
def cuobjdump_path() -> str | None:
    """The ``cuobjdump`` of the pip wheel (or on PATH) with an ``nvdisasm`` beside it, else None."""
    try:
        import nvidia
    except ImportError:
        nvidia = None
    for root in list(getattr(nvidia, "__path__", [])):
        for sub in sorted(os.listdir(root)):
            tool = os.path.join(root, sub, "bin", "cuobjdump")
            if os.path.exists(tool) and os.path.exists(os.path.join(root, sub, "bin", "nvdisasm")):
                return tool
    tool = shutil.which("cuobjdump")
    return tool if tool and shutil.which("nvdisasm") else None


def cuobjdump_unavailable_reason() -> str | None:
    if cuobjdump_path() is None:
        return ("cuobjdump and nvdisasm not found: pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm "
                "(the test extra)")
    return None


def disassemble(cubin: bytes) -> str:
    """The SASS text of ``cubin``."""
    tool = cuobjdump_path()
    if tool is None:
        raise CompileError(cuobjdump_unavailable_reason())
    env = dict(os.environ, PATH=os.path.dirname(tool) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        done = subprocess.run([tool, "-sass", f.name], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise CompileError(f"cuobjdump -sass failed: {done.stderr.strip()}")
    return done.stdout


def opcodes(sass: str) -> list[tuple[int, str, str]]:
    """(address, opcode with its modifiers, operands) of every instruction of ``sass``."""
    return [(int(m.group(1), 16), m.group(2), m.group(3).strip()) for m in _LINE.finditer(sass)]


def loops(sass: str) -> list[list[str]]:
    """Each loop of ``sass``, innermost first (the shortest), as its opcodes: from the target
    of a backward branch (``BRA`` to a lower address) to the branch."""
    code = opcodes(sass)
    out = []
    for at, op, args in code:
        if op.split(".")[0] != "BRA":
            continue
        target = re.search(r"0x([0-9a-f]+)", args)
        if target and int(target.group(1), 16) < at:  # (a branch to itself ends the code)
            start = int(target.group(1), 16)
            out.append([o for a, o, _ in code if start <= a <= at])
    return sorted(out, key=len)
