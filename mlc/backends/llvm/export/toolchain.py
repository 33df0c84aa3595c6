"""The system's C compiler/linker, as an export uses it: found, run, and its library checked.

``cc=None`` looks for ``cc``, ``gcc`` and ``clang`` on PATH (for another
architecture, ``<triple>-gcc`` first: ``aarch64-linux-gnu-gcc``); ``cc`` may hold
options (``"clang --target=aarch64-linux-gnu"``). The library is linked with
``-z defs`` (every symbol resolved at link time), libgcc static (its half-precision
conversions), and a version script exporting only the entries; then its ELF header
must name the target's machine and its ``DT_NEEDED`` list only the C library, libm,
pthreads and the dynamic loader.
"""
from __future__ import annotations

import platform
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path

from ....errors import ToolchainError
from ..elf import machine_of, needed_libraries

__all__ = ["find_cc", "run_cc", "check_library", "ALLOWED_LIBRARIES", "needed_libraries"]

#: sonames an exported library may depend on (by prefix).
ALLOWED_LIBRARIES = ("libc.so", "libm.so", "libpthread.so", "ld-linux")

#: The compilers tried, in order, when ``cc`` is not given.
DEFAULT_COMPILERS = ("cc", "gcc", "clang")


def _host_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def find_cc(cc: str | Sequence[str] | None, triple: str) -> list[str]:
    """The compiler command for code of ``triple`` (its own name first, for another
    architecture than this machine's); a ToolchainError naming what was tried."""
    if cc is not None:
        command = shlex.split(cc) if isinstance(cc, str) else list(cc)
        if not command or shutil.which(command[0]) is None:
            raise ToolchainError(f"export: the C compiler cc={cc!r} was not found on PATH; install it, or "
                                 "pass cc= the path of one (cc, gcc or clang)")
        return command
    arch = triple.split("-", 1)[0]
    candidates = DEFAULT_COMPILERS if arch == _host_arch() else (f"{triple}-gcc", f"{arch}-linux-gnu-gcc")
    for name in candidates:
        if shutil.which(name):
            return [name]
    if arch != _host_arch():
        raise ToolchainError(f"export: no C cross-compiler for {triple} on PATH (tried {', '.join(candidates)}); "
                             f"install one (Debian: apt-get install gcc-{arch}-linux-gnu) or pass "
                             f"cc='clang --target={triple}'")
    raise ToolchainError("export: no C compiler on PATH (tried cc, gcc, clang); install one (Debian: "
                         "apt-get install gcc) or pass cc= the path of one")


def run_cc(command: Sequence[str], cwd: Path) -> None:
    """Run ``command`` in ``cwd``; a ToolchainError with its output if it fails."""
    import subprocess  # (only here: importing it costs every process's first build some 2 ms)
    try:
        done = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolchainError(f"export: running {shlex.join(command)} failed: {err}") from None
    if done.returncode != 0:
        raise ToolchainError(f"export: the C compiler failed (exit {done.returncode}):\n  {shlex.join(command)}\n"
                             f"{(done.stderr or done.stdout)[-4000:]}")


def check_library(data: bytes, triple: str, command: Sequence[str]) -> None:
    """Refuse a linked library for another machine than ``triple``'s, or one that needs more
    than :data:`ALLOWED_LIBRARIES`."""
    machine, needed = needed_libraries(data)
    if machine != machine_of(triple):
        raise ToolchainError(f"export: {shlex.join(command)} linked a library for ELF machine {machine}, not "
                             f"{triple}; pass cc= a compiler for {triple} (e.g. cc='{triple}-gcc')")
    extra = [n for n in needed if not n.startswith(ALLOWED_LIBRARIES)]
    if extra:
        raise ToolchainError(f"export: the library needs {extra} besides the C library, libm and pthreads; "
                             "mlc's generated code should not (a bug: please report it)")
