"""Reading and checking an ELF64 relocatable object before LLVM loads it (and reading the
libraries an exported shared library needs, :func:`needed_libraries`).

MCJIT trusts the object files it is handed: a truncated file, an offset past
the end or a relocation naming a symbol that does not exist make it read or
write outside the buffer (and crash the process). Object code comes from
LLVM itself or from the on-disk cache, which may hold anything; so every
object is read here first, with every offset and size checked against the
file, and its symbols listed: what it defines and what it needs from outside
(:mod:`.symbols` holds the allow-list for the latter).

>>> read_object(b"garbage", "x86_64-unknown-linux-gnu")
Traceback (most recent call last):
...
mlc.backends.llvm.elf.ObjectFileError: not an ELF64 little-endian object file (7 bytes)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import CompileError, ToolchainError

__all__ = ["ObjectFileError", "ObjectSymbols", "read_object", "machine_of", "needed_libraries"]

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
_REL = struct.Struct("<QQ")
_ET_REL = 1
_SHT_SYMTAB, _SHT_STRTAB, _SHT_RELA, _SHT_NOBITS, _SHT_REL = 2, 3, 4, 8, 9
_SHN_UNDEF, _SHN_LORESERVE = 0, 0xFF00
_SHT_DYNAMIC, _DT_NEEDED, _DT_NULL = 6, 1, 0
_STB_GLOBAL, _STB_WEAK = 1, 2
#: Relocation types that write 8 bytes (x86-64 R_X86_64_64, PC64; AArch64 ABS64, PREL64);
#: the others write at most 4.
_WIDE_RELOCATIONS = frozenset({1, 24, 257, 260})

#: The largest zero-filled (``.bss``) section accepted: mlc's hold a few pointers each (the
#: tables and counters of :mod:`.entries`, :mod:`.memory`, :mod:`.parallel`); the loader
#: allocates whatever size the header says.
_MAX_NOBITS = 1 << 30

#: The ELF ``e_machine`` of each architecture mlc generates code for (by triple prefix).
_MACHINES = {"x86_64": 62, "aarch64": 183}

#: Relocation types MCJIT's linker implements, per machine (others would stop the
#: process inside LLVM): x86-64 NONE, 64, PC32, PLT32, GOTPCREL, 32, 32S, PC64,
#: GOTPCRELX, REX_GOTPCRELX; AArch64 NONE, the absolute, PC-relative, MOVW, page,
#: branch and GOT relocations of the small and large code models.
_RELOCATIONS = {
    62: frozenset({0, 1, 2, 4, 9, 10, 11, 24, 41, 42}),
    183: frozenset({0, *range(257, 287), 299, 311, 312}),
}


class ObjectFileError(CompileError):
    """An object file is malformed, or for another machine: it must not be loaded."""


@dataclass(frozen=True)
class ObjectSymbols:
    """The global symbols an object defines, and those it needs from elsewhere."""
    defined: frozenset[str]
    undefined: frozenset[str]


def machine_of(triple: str) -> int | None:
    """The ELF machine number for an LLVM target triple (None: an architecture mlc
    does not know, whose objects are then refused)."""
    return _MACHINES.get(triple.split("-", 1)[0])


def read_object(obj: bytes, triple: str) -> ObjectSymbols:
    """Check that ``obj`` is a well-formed ELF64 little-endian relocatable object for
    ``triple``'s machine and return its symbols; raise ObjectFileError otherwise."""
    data = memoryview(obj)
    if len(data) < _EHDR.size or bytes(data[:4]) != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ObjectFileError(f"not an ELF64 little-endian object file ({len(data)} bytes)")
    (_ident, e_type, machine, _version, _entry, _phoff, shoff, _flags, _ehsize, _phentsize, _phnum,
     shentsize, shnum, _shstrndx) = _EHDR.unpack_from(data, 0)
    if e_type != _ET_REL:
        raise ObjectFileError(f"ELF type {e_type} is not a relocatable object")
    if machine != machine_of(triple):
        raise ObjectFileError(f"ELF machine {machine} does not run on {triple}")
    if shentsize != _SHDR.size or shnum == 0 or not _fits(shoff, shnum * _SHDR.size, len(data)):
        raise ObjectFileError("the section header table lies outside the file")
    sections = [_SHDR.unpack_from(data, shoff + n * _SHDR.size) for n in range(shnum)]
    for n, (_name, kind, _f, _a, offset, size, *_rest) in enumerate(sections):
        if kind == _SHT_NOBITS:  # zeros the loader allocates: placed in the file, of a sane size
            if not _fits(offset, 0, len(data)) or size > _MAX_NOBITS:
                raise ObjectFileError(f"section {n} (zero-filled) lies outside the file or is too large")
        elif kind != 0 and not _fits(offset, size, len(data)):
            raise ObjectFileError(f"section {n} lies outside the file")
    symtabs = [n for n, sh in enumerate(sections) if sh[1] == _SHT_SYMTAB]
    if len(symtabs) != 1:
        raise ObjectFileError(f"the object has {len(symtabs)} symbol tables, not one")
    symbols, result = _symbols(data, sections, symtabs[0])
    for n, sh in enumerate(sections):
        if sh[1] in (_SHT_RELA, _SHT_REL):
            _check_relocations(data, sections, n, symtabs[0], len(symbols), _RELOCATIONS[machine])
    return result


def _fits(offset: int, size: int, total: int) -> bool:
    return 0 <= offset and 0 <= size and offset + size <= total


def _symbols(data: memoryview, sections: list, index: int) -> tuple[list, ObjectSymbols]:
    _name, _kind, _f, _a, offset, size, link, _info, _align, entsize = sections[index]
    if entsize != _SYM.size or size % _SYM.size or link >= len(sections) or sections[link][1] != _SHT_STRTAB:
        raise ObjectFileError("the symbol table is malformed")
    str_offset, str_size = sections[link][4], sections[link][5]
    strings = bytes(data[str_offset:str_offset + str_size])
    symbols = [_SYM.unpack_from(data, pos) for pos in range(offset, offset + size, _SYM.size)]
    defined, undefined = set(), set()
    for st_name, info, _other, shndx, value, extent in symbols[1:]:  # entry 0 is the null symbol
        if st_name >= max(str_size, 1) and st_name:
            raise ObjectFileError("a symbol's name lies outside the string table")
        end = strings.find(b"\0", st_name)
        if end < 0:
            raise ObjectFileError("a symbol's name is not terminated")
        try:
            name = strings[st_name:end].decode("ascii")
        except UnicodeDecodeError:
            raise ObjectFileError("a symbol's name is not ASCII") from None
        if _SHN_UNDEF < shndx < _SHN_LORESERVE:
            if shndx >= len(sections):
                raise ObjectFileError(f"symbol {name!r} refers to section {shndx}, which does not exist")
            if not _fits(value, extent, sections[shndx][5]):
                raise ObjectFileError(f"symbol {name!r} lies outside its section")
        if not name:
            continue
        if shndx == _SHN_UNDEF:
            undefined.add(name)
        elif info >> 4 in (_STB_GLOBAL, _STB_WEAK):
            defined.add(name)
    return symbols, ObjectSymbols(frozenset(defined), frozenset(undefined))


def _check_relocations(data: memoryview, sections: list, index: int, symtab: int, nsyms: int,
                       known: frozenset[int]) -> None:
    _name, kind, _f, _a, offset, size, link, target, _align, entsize = sections[index]
    entry = _RELA if kind == _SHT_RELA else _REL
    if entsize != entry.size or size % entry.size or link != symtab or not 0 < target < len(sections):
        raise ObjectFileError(f"relocation section {index} is malformed")
    target_size = sections[target][5]
    for pos in range(offset, offset + size, entry.size):
        r_offset, r_info = entry.unpack_from(data, pos)[:2]
        if r_info & 0xFFFFFFFF not in known:
            raise ObjectFileError(f"relocation type {r_info & 0xFFFFFFFF} in section {index} is "
                                  "not one the JIT linker implements")
        width = 8 if r_info & 0xFFFFFFFF in _WIDE_RELOCATIONS else 4
        if r_info >> 32 >= nsyms or not _fits(r_offset, width, target_size):
            raise ObjectFileError(f"a relocation in section {index} points outside its section "
                                  "or at a symbol that does not exist")


def needed_libraries(data: bytes) -> tuple[int, list[str]]:
    """(ELF machine, the ``DT_NEEDED`` sonames) of a shared library's bytes (what an export
    linked, :mod:`.export.toolchain`).

    >>> needed_libraries(b"not elf")
    Traceback (most recent call last):
    ...
    mlc.errors.ToolchainError: the linked library is not an ELF64 little-endian file
    """
    if len(data) < _EHDR.size or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ToolchainError("the linked library is not an ELF64 little-endian file")
    fields = _EHDR.unpack_from(data, 0)
    machine, shoff, shnum = fields[2], fields[6], fields[12]
    sections = [_SHDR.unpack_from(data, shoff + n * _SHDR.size) for n in range(shnum)]
    needed = []
    for _name, kind, _f, _a, offset, size, link, *_rest in sections:
        if kind != _SHT_DYNAMIC:
            continue
        strings = sections[link][4]
        for pos in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == _DT_NULL:
                break
            if tag == _DT_NEEDED:
                end = data.index(b"\0", strings + value)
                needed.append(data[strings + value:end].decode())
    return machine, needed
