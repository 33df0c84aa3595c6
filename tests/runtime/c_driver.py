"""A C program that calls one entry of an exported library through its header: it reads
each input from ``in<k>.bin``, calls the entry, and writes each output to ``out<k>.bin``."""
import shutil
import subprocess
from pathlib import Path

import numpy as np

from mlc.runtime.exported import c_type


def c_program(header: str, function: str, params, sizes=()) -> str:
    """C source calling ``function`` (declared in ``header``) with ``params`` ((dtype, shape, role)
    each), then the integer ``sizes``; a nonzero result is the program's exit status."""
    lines = ["#include <stdio.h>", "#include <stdlib.h>", f'#include "{header}"', "",
             "static void *slurp(const char *name, size_t bytes) {",
             "    void *p = malloc(bytes ? bytes : 1); FILE *f = fopen(name, \"rb\");",
             "    if (!f || fread(p, 1, bytes, f) != bytes) { fprintf(stderr, \"cannot read %s\\n\", name); exit(2); }",
             "    fclose(f); return p;", "}", "",
             "int main(void) {"]
    args, outs = [], []
    for k, (dtype, shape, role) in enumerate(params):
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if role == "in":
            lines.append(f'    {c_type(dtype)} *a{k} = slurp("in{k}.bin", {size});')
        else:
            lines.append(f"    {c_type(dtype)} *a{k} = malloc({size} ? {size} : 1);")
            outs.append((k, size))
        args.append(f"a{k}")
    args += [str(int(n)) for n in sizes]
    call = f"{function}({', '.join(args)})"
    lines.append(f"    if ({call} != 0) return 4;" if sizes else f"    {call};")
    for n, (k, size) in enumerate(outs):
        lines += [f'    FILE *o{n} = fopen("out{n}.bin", "wb");',
                  f"    if (fwrite(a{k}, 1, {size}, o{n}) != {size}) return 3;", f"    fclose(o{n});"]
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


def run_c_program(library: Path, function: str, inputs, outputs, cc=("cc",), runner=(), sizes=()):
    """Build a program calling ``function`` of ``library`` (its header beside it; after the
    arrays, the integer ``sizes`` of a program with dynamic sizes, which returns 0) and run
    it in the library's folder (under ``runner``, e.g. qemu): the outputs as arrays of
    ``outputs`` ((dtype, shape) each)."""
    folder = library.parent
    header = library.name.split(".", 1)[0] + ".h"
    params = [(a.dtype.name, a.shape, "in") for a in inputs] + [(d, s, "out") for d, s in outputs]
    (folder / "main.c").write_text(c_program(header, function, params, sizes))
    for k, a in enumerate(inputs):
        (folder / f"in{k}.bin").write_bytes(np.ascontiguousarray(a).tobytes())
    subprocess.run([*cc, "-O1", "-o", "prog", "main.c", library.name, "-Wl,-rpath,$ORIGIN"], cwd=folder,
                   check=True, capture_output=True, text=True)
    done = subprocess.run([*runner, "./prog"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [np.frombuffer((folder / f"out{n}.bin").read_bytes(), dtype).reshape(shape)
            for n, (dtype, shape) in enumerate(outputs)]


def have(*programs) -> bool:
    return all(shutil.which(p) for p in programs)
