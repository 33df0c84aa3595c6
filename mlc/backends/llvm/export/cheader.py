"""The C side of an exported library: its header, and the entries' C wrappers.

The header declares one function per entry, with each array's dtype and shape in
a comment, and the library's thread-count functions::

    /* main: x: float32[4, 8] (in); out0: float32[4, 8] (out) */
    void mlc_model_main(const float *x, float *out0);

The wrappers (compiled into the library, :func:`wrapper_source`) call the generated
functions: a graph's ``main`` with the constants between inputs and outputs (the
constants are the library's read-only data, included byte for byte with the
assembler's ``.incbin``), a PrimFunc with its size arguments in their own integer
types. A program with dynamic sizes (``kind="program"``) gets a main written here in
C: it binds the sizes, allocates each intermediate at this call's size (each result
is written straight into its output where it can be), calls the kernels in order
and frees what it allocated.
"""
from __future__ import annotations

from collections.abc import Sequence

from ....version import __version__
from ....runtime.exported import EntrySpec, ProgramSpec, c_identifier, c_type, expr_source

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
        returns = ("\n * Returns 0; 1 when memory ran out; else the number of the size found 0 that must not be: "
                   + "; ".join(f"{2 + k}: {expr_source(e)} > 0" for k, (e, _) in enumerate(entry.program.nonempty))
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
    module to its LLVM symbol."""
    lines = ["#include <stdint.h>", "#include <stdlib.h>", "#include <string.h>", ""]
    for k, entry in enumerate(entries):
        for n, _ in enumerate(_constants(entry)):
            symbol = constant_symbol(k, n)
            path = constant_files[(k, n)].replace("\\", "\\\\").replace('"', '\\"')
            lines += [f'__asm__(".section .rodata\\n.balign 64\\n.hidden {symbol}\\n.globl {symbol}\\n'
                      f'{symbol}:\\n.incbin \\"{path}\\"\\n.byte 0\\n.previous");',
                      f"extern const unsigned char {symbol}[];"]
    lines.append("")
    declared: dict[str, str] = {}
    for k, entry in enumerate(entries):
        if entry.kind == "program":
            lines += _program(prefix, k, entry, symbols, declared)
            continue
        n_in = sum(1 for p in entry.params if p.role == "in") if entry.kind == "graph" else len(entry.params)
        sizes = [_SIZE_TYPES.get(dtype, "int64_t") for _, dtype, _, _ in entry.size_vars]
        lines += _declare(symbols[entry.symbol], len(entry.params) + len(entry.constants), sizes, declared)
        args = [f"(void *){c_identifier(p.name)}" for p in entry.params[:n_in]]
        args += [f"(void *){constant_symbol(k, n)}" for n in range(len(entry.constants))]
        args += [f"(void *){c_identifier(p.name)}" for p in entry.params[n_in:]]
        args += [f"({t}){c_identifier(name)}" for (name, _, _, _), t in zip(entry.size_vars, sizes)]
        call = f"    {declared[symbols[entry.symbol]]}({', '.join(args)});"
        lines += [_prototype(prefix, entry) + " {", call, "}", ""]
    return "\n".join(lines)


def constant_arrays(entry: EntrySpec) -> tuple:
    """The arrays entry ``entry`` keeps in the library, in the order of their symbols."""
    return _constants(entry)


def _constants(entry: EntrySpec) -> tuple:
    return tuple(a for _, a in entry.program.constants) if entry.program is not None else tuple(entry.constants)


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


def _bytes(program: ProgramSpec, value: int) -> str:
    """C expression of the bytes of ``value``'s array at this call's sizes."""
    dtype, shape = program.values[value]
    itemsize = _ITEMSIZES.get(dtype, 8)
    return " * ".join([f"(size_t){itemsize}", *(f"(size_t)({expr_source(d, c=True)})" for d in shape)])


_ITEMSIZES = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "float16": 2, "bfloat16": 2,
              "int32": 4, "uint32": 4, "float32": 4, "int64": 8, "uint64": 8, "float64": 8,
              "complex64": 8, "complex128": 16}


def _program(prefix: str, k: int, entry: EntrySpec, symbols: dict[str, str], declared: dict) -> list[str]:
    """The C main of program entry ``entry`` (the ``k``-th)."""
    program = entry.program
    n_in = len(program.inputs)
    lines = []
    for step in program.steps:
        if step[0] == "call":
            _, name, args, outs, sizes = step
            lines += _declare(symbols[name], len(args) + len(outs), [_SIZE_TYPES.get(t, "int64_t") for _, t in sizes],
                              declared)
    body = [f"    void *v[{max(1, len(program.values))}] = {{0}};",
            f"    void *owned[{max(1, len(program.values))}] = {{0}};", "    int status = 0;"]
    for (name, _, _, _) in entry.size_vars:
        body.append(f"    (void){c_identifier(name)};")
    for n, cond in enumerate(program.nonempty):
        body.append(f"    if (!({expr_source(cond[0], c=True)} > 0)) return {2 + n};")
    for param, value in zip(entry.params, program.inputs):
        body.append(f"    v[{value}] = (void *){c_identifier(param.name)};")
    for n, (value, _) in enumerate(program.constants):
        body.append(f"    v[{value}] = (void *){constant_symbol(k, n)};")
    direct = {}  # value -> the output parameter a call writes it into
    produced = {o for step in program.steps if step[0] == "call" for o in step[3]}
    for position, value in enumerate(program.outputs):
        if value in produced and value not in direct:
            direct[value] = entry.params[n_in + position].name
    for step in program.steps:
        if step[0] == "view":
            body.append(f"    v[{step[2]}] = v[{step[1]}];")
            continue
        _, name, args, outs, sizes = step
        for value in outs:
            if value in direct:
                body.append(f"    v[{value}] = (void *){c_identifier(direct[value])};")
            else:
                body += [f"    owned[{value}] = v[{value}] = malloc({_bytes(program, value)} + 1);",
                         f"    if (!v[{value}]) {{ status = 1; goto done; }}"]
        call = [f"v[{a}]" for a in (*args, *outs)]
        call += [f"({_SIZE_TYPES.get(t, 'int64_t')})({expr_source(e, c=True)})" for e, t in sizes]
        body.append(f"    {declared[symbols[name]]}({', '.join(call)});")
    for position, value in enumerate(program.outputs):
        out = c_identifier(entry.params[n_in + position].name)
        if direct.get(value) != entry.params[n_in + position].name:
            body.append(f"    memcpy({out}, v[{value}], {_bytes(program, value)});")
    body += ["done:", f"    for (int i = 0; i < {max(1, len(program.values))}; i++) free(owned[i]);",
             "    return status;"]
    return lines + [_prototype(prefix, entry) + " {", *body, "}", ""]
