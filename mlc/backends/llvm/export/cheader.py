"""The C side of an exported library: its header, and the entries' C wrappers.

The header declares one function per entry, with each array's dtype and shape in
a comment, and the library's thread-count functions::

    /* main: x: float32[4, 8] (in); out0: float32[4, 8] (out) */
    void mlc_model_main(const float *x, float *out0);

The wrappers (compiled into the library, :func:`wrapper_source`) call the generated
functions: a graph's ``main`` with the constants between inputs and outputs (the
constants are the library's read-only data, included byte for byte with the
assembler's ``.incbin``), a PrimFunc with its size arguments in their own integer
types.
"""
from __future__ import annotations

from collections.abc import Sequence

from ....version import __version__
from ....runtime.exported import EntrySpec, c_identifier, c_type

__all__ = ["header_source", "wrapper_source", "constant_symbol"]

_SIZE_TYPES = {"int32": "int32_t", "int64": "int64_t"}


def constant_symbol(entry: int, n: int) -> str:
    """The (hidden) symbol of constant ``n`` of entry ``entry``."""
    return f"mlc_constant_{entry}_{n}"


def _prototype(prefix: str, entry: EntrySpec) -> str:
    args = [f"{'const ' if p.role == 'in' else ''}{c_type(p.dtype)} *{c_identifier(p.name)}" for p in entry.params]
    args += [f"int64_t {c_identifier(name)}" for name, _, _, _ in entry.size_vars]
    return f"void {prefix}{c_identifier(entry.name)}({', '.join(args) or 'void'})"


def header_source(prefix: str, guard: str, entries: Sequence[EntrySpec], target: str) -> str:
    """The header: every entry's prototype under a comment giving its arrays."""
    lines = [f"/* {guard.lower()}.h: written by mlc {__version__} (export) for {target}.",
             " * Arrays are C-contiguous; shapes and dtypes are those the library was built for.",
             " * Link with the library; it needs only the C library, libm and pthreads. */",
             f"#ifndef {guard}_H", f"#define {guard}_H", "", "#include <stdint.h>", "",
             "#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
    for entry in entries:
        arrays = "; ".join(f"{p.name}: {p.describe()} ({p.role})" for p in entry.params)
        sizes = (" ; sizes: " + ", ".join(name for name, _, _, _ in entry.size_vars)) if entry.size_vars else ""
        lines += [f"/* {entry.name} ({entry.kind}): {arrays}{sizes} */", _prototype(prefix, entry) + ";", ""]
    lines += ["/* Threads the library's parallel loops use (default: MLC_NUM_THREADS, or every CPU",
              " * the process may run on); returns the count now in force. */",
              f"int {prefix}set_num_threads(int n);", f"int {prefix}get_num_threads(void);", "",
              "#ifdef __cplusplus", "}", "#endif", f"#endif /* {guard}_H */", ""]
    return "\n".join(lines)


def wrapper_source(prefix: str, entries: Sequence[EntrySpec], constant_files: dict[tuple[int, int], str]) -> str:
    """C source of the entries' wrappers; ``constant_files[(entry, n)]`` is the file holding
    constant ``n`` of entry ``entry`` (absolute path)."""
    lines = ["#include <stdint.h>", ""]
    for k, entry in enumerate(entries):
        for n, const in enumerate(entry.constants):
            symbol = constant_symbol(k, n)
            path = constant_files[(k, n)].replace("\\", "\\\\").replace('"', '\\"')
            lines += [f'__asm__(".section .rodata\\n.balign 64\\n.hidden {symbol}\\n.globl {symbol}\\n'
                      f'{symbol}:\\n.incbin \\"{path}\\"\\n.byte 0\\n.previous");',
                      f"extern const unsigned char {symbol}[];"]
    lines.append("")
    for k, entry in enumerate(entries):
        n_in = sum(1 for p in entry.params if p.role == "in") if entry.kind == "graph" else len(entry.params)
        ptrs = ["void *"] * (len(entry.params) + len(entry.constants))
        sizes = [_SIZE_TYPES.get(dtype, "int64_t") for _, dtype, _, _ in entry.size_vars]
        lines.append(f"extern void {entry.symbol}({', '.join(ptrs + sizes) or 'void'});")
        args = [f"(void *){c_identifier(p.name)}" for p in entry.params[:n_in]]
        args += [f"(void *){constant_symbol(k, n)}" for n in range(len(entry.constants))]
        args += [f"(void *){c_identifier(p.name)}" for p in entry.params[n_in:]]
        args += [f"({t}){c_identifier(name)}" for (name, _, _, _), t in zip(entry.size_vars, sizes)]
        lines += [_prototype(prefix, entry) + " {", f"    {entry.symbol}({', '.join(args)});", "}", ""]
    return "\n".join(lines)
