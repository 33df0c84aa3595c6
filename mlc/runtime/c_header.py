"""The C side of an exported library: its header, and the entries' C wrappers, rendered
from the entries' :class:`~mlc.runtime.exported.EntrySpec` (their metadata side is
:meth:`EntrySpec.metadata <mlc.runtime.exported.EntrySpec.metadata>`, which
:mod:`mlc.runtime.loader` reads): the library's interface, whatever backend made its code.

The header declares one function per entry, with each array's dtype and shape in
a comment, and the library's thread-count functions::

    /* main: x: float32[4, 8] (in); out0: float32[4, 8] (out) */
    void mlc_model_main(const float *x, float *out0);

The wrappers (compiled into the library, :func:`wrapper_source`) call the generated
functions: a graph's ``main`` with the constants between inputs and outputs (the
constants are the library's read-only data, included byte for byte with the
assembler's ``.incbin``), a PrimFunc with its size arguments in their own integer
types. A program with dynamic sizes (``kind="program"``, a ``main`` of symbolic
shapes) takes each size after the arrays and returns ``2 + k`` without running
where the ``k``-th size that must not be 0 is, else 0.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..version import __version__
from .exported import EntrySpec, c_identifier, c_type, expr_source

__all__ = ["header_source", "wrapper_source", "constant_symbol"]

_SIZE_TYPES = {"int32": "int32_t", "int64": "int64_t"}


def constant_symbol(entry: int, n: int) -> str:
    """The (hidden) symbol of constant ``n`` of entry ``entry``."""
    return f"mlc_constant_{entry}_{n}"


def _prototype(prefix: str, entry: EntrySpec) -> str:
    args = [f"{'const ' if p.role == 'in' else ''}{c_type(p.dtype)} *{c_identifier(p.name)}" for p in entry.params]
    args += [f"int64_t {c_identifier(name)}" for name, _, _, _ in entry.size_vars]
    result = "int" if entry.kind == "program" else "void"
    return f"{result} {prefix}{c_identifier(entry.name)}({', '.join(args) or 'void'})"


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
        returns = ("\n * Returns 0; else the number of the size found 0 that must not be: "
                   + "; ".join(f"{2 + k}: {expr_source(e)} > 0" for k, (e, _) in enumerate(entry.nonempty))
                   if entry.kind == "program" else "")
        lines += [f"/* {entry.name} ({entry.kind}): {arrays}{sizes}{returns}{_call_notes(entry)} */",
                  _prototype(prefix, entry) + ";", ""]
    lines += ["/* Threads the library's parallel loops use (default: MLC_NUM_THREADS, or every CPU",
              " * the process may run on); returns the count now in force. */",
              f"int {prefix}set_num_threads(int n);", f"int {prefix}get_num_threads(void);", "",
              "#ifdef __cplusplus", "}", "#endif", f"#endif /* {guard}_H */", ""]
    return "\n".join(lines)


def _call_notes(entry: EntrySpec) -> str:
    """What a C caller does around the call where Python's loader does it (``CallSpec``):
    random keys to draw, ints to verify, arguments to write back."""
    calls = entry.calls
    if calls is None or not calls.needed():
        return ""
    ins = [p for p in entry.params if p.role == "in"]
    outs = [p for p in entry.params if p.role != "in"]
    notes = []
    for p in ins[len(ins) - len(calls.keys):]:
        notes.append(f"{p.name}: a fresh random key each call (two random 32-bit words)")
    n_writes, n_checks = len(calls.writes), len(calls.checks)
    checked = outs[len(outs) - n_writes - n_checks:len(outs) - n_writes]
    for p, (dtype, _, limit) in zip(checked, calls.checks):
        rule = {"bounds": "must be 0 (else an index was out of bounds)", "exponent": "must not be negative",
                "below": f"must be in [0, {limit})", "index": f"must be in [-{limit}, {limit}) (an index)",
                "status": "must be [0, 0] (else the check its first element numbers failed)"}.get(
                    dtype, f"must fit {dtype}")
        notes.append(f"{p.name}: a traced Python int that {rule}; check it before using the results")
    for p, k in zip(outs[len(outs) - n_writes:], calls.writes):
        notes.append(f"{p.name}: the new contents of {ins[k].name}, which the function writes: copy it there")
    return "\n * " + "\n * ".join(notes)


def wrapper_source(prefix: str, entries: Sequence[EntrySpec], constant_files: dict[tuple[int, int], str],
                   symbols: dict[str, str]) -> str:
    """C source of the entries' wrappers; ``constant_files[(entry, n)]`` is the file holding
    constant ``n`` of entry ``entry`` (absolute path); ``symbols`` maps each function of the
    module to its symbol in the object code."""
    lines = ["#include <stdint.h>", "#include <stdlib.h>", "#include <string.h>", ""]
    for k, entry in enumerate(entries):
        for n, _ in enumerate(entry.constants):
            symbol = constant_symbol(k, n)
            path = constant_files[(k, n)].replace("\\", "\\\\").replace('"', '\\"')
            lines += [f'__asm__(".section .rodata\\n.balign 64\\n.hidden {symbol}\\n.globl {symbol}\\n'
                      f'{symbol}:\\n.incbin \\"{path}\\"\\n.byte 0\\n.previous");',
                      f"extern const unsigned char {symbol}[];"]
    lines.append("")
    declared: dict[str, str] = {}
    for k, entry in enumerate(entries):
        n_in = sum(1 for p in entry.params if p.role == "in") if entry.kind != "function" else len(entry.params)
        sizes = [_SIZE_TYPES.get(dtype, "int64_t") for _, dtype, _, _ in entry.size_vars]
        lines += _declare(symbols[entry.symbol], len(entry.params) + len(entry.constants), sizes, declared)
        args = [f"(void *){c_identifier(p.name)}" for p in entry.params[:n_in]]
        args += [f"(void *){constant_symbol(k, n)}" for n in range(len(entry.constants))]
        args += [f"(void *){c_identifier(p.name)}" for p in entry.params[n_in:]]
        args += [f"({t}){c_identifier(name)}" for (name, _, _, _), t in zip(entry.size_vars, sizes)]
        call = [f"    {declared[symbols[entry.symbol]]}({', '.join(args)});"]
        if entry.kind == "program":  # the sizes that must not be 0 checked first
            call = [f"    if (!({expr_source(e, c=True)} > 0)) return {2 + n};" for n, (e, _) in enumerate(entry.nonempty)]\
                + call + ["    return 0;"]
        lines += [_prototype(prefix, entry) + " {", *call, "}", ""]
    return "\n".join(lines)


def constant_arrays(entry: EntrySpec) -> tuple:
    """The arrays entry ``entry`` keeps in the library, in the order of their symbols."""
    return tuple(entry.constants)


def _declare(symbol: str, pointers: int, sizes: Sequence[str], declared: dict) -> list[str]:
    """The declaration of function ``symbol`` (``pointers`` arrays, then ``sizes``), once, under
    a C name of its own that the assembler label maps to the symbol (a kernel may be called
    ``double``, or anything else a C identifier cannot be); ``declared`` maps each symbol
    declared so far to its C name."""
    if symbol in declared:
        return []
    declared[symbol] = name = f"mlc_function_{len(declared)}"
    label = symbol.replace("\\", "\\\\").replace('"', '\\"')
    return [f"extern void {name}({', '.join(['void *'] * pointers + list(sizes)) or 'void'}) __asm__(\"{label}\");"]
