"""A/B: the cost of checking traced indices (``mlc.jit`` vs ``mlc.jit(bounds_check=False)``).

usage: python benchmarks/bounds_check_overhead.py [npbench kernel names...]
Each NPBench kernel (unmodified, its non-array arguments static, preset S) is jitted both
ways in one process and timed interleaved: the median of ``--reps`` calls of each, and their
ratio (checked / unchecked), and whether the checked program differs at all. Plus two micro rows: a traced-bound loop of element reads, and a
gather by a traced index array.
"""
import copy
import importlib.util
import json
import os
import sys
import time

import numpy as np

import mlc

ROOT = "/work/npb"


def npbench(name):
    info = json.load(open(os.path.join(ROOT, "bench_info", name + ".json")))["benchmark"]
    d = os.path.join(ROOT, "npbench/benchmarks", info["relative_path"])

    def load(fname):
        spec = importlib.util.spec_from_file_location(fname, os.path.join(d, fname + ".py"))
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        return m
    init_mod, np_mod = load(info["module_name"]), load(info["module_name"] + "_numpy")
    params = dict(info["parameters"]["S"])
    env = dict(params)
    init = info.get("init")
    if init:
        outs = getattr(init_mod, init["func_name"])(*[params[a] for a in init["input_args"]])
        env.update(zip(init["output_args"], outs if isinstance(outs, tuple) else (outs,)))
    args, arrays = info["input_args"], set(info.get("array_args", []))
    kernel = getattr(np_mod, info["func_name"])
    static = tuple(i for i, a in enumerate(args) if a not in arrays)
    return kernel, (lambda: [copy.deepcopy(env[a]) for a in args]), static


def micro():
    def total(a, n):
        s = 0.0
        for i in range(n):
            s = s + a[i]
        return s

    def gather(a, idx):
        return a[idx].sum()
    a = np.random.default_rng(0).standard_normal(100_000)
    idx = np.random.default_rng(1).integers(0, a.size, 100_000)
    yield "loop a[i], n=1e5 traced", total, (lambda: [a, a.size]), ()
    yield "a[idx].sum(), 1e5", gather, (lambda: [a, idx]), ()


def ab(name, kernel, fresh, static, reps):
    fs = {flag: mlc.jit(kernel, static_argnums=static, bounds_check=flag) for flag in (True, False)}
    for f in fs.values():
        f(*fresh())
    texts = [fs[flag].trace(*fresh()).lower().as_text() for flag in (True, False)]
    same = "no check (same program)" if texts[0] == texts[1] else "checked"
    times = {True: [], False: []}
    for _ in range(reps):
        for flag, f in fs.items():
            xs = fresh()
            t = time.perf_counter()
            f(*xs)
            times[flag].append(time.perf_counter() - t)
    on, off = (float(np.median(times[k])) for k in (True, False))
    print(f"| {name} | {same} | {off * 1e3:.3f} | {on * 1e3:.3f} | {on / off:.3f} |", flush=True)


def main():
    names = [a for a in sys.argv[1:] if not a.startswith("--")]
    reps = int(os.environ.get("REPS", "21"))
    print("| kernel | program | unchecked ms | checked ms | checked / unchecked |\n|---|---|---|---|---|")
    for name, kernel, fresh, static in micro():
        ab(name, kernel, fresh, static, reps)
    for name in names:
        try:
            ab(name, *npbench(name), reps)
        except mlc.errors.MLCError as err:
            print(f"| {name} | refused: {type(err).__name__}: {str(err).splitlines()[0][:80]} | | |", flush=True)


if __name__ == "__main__":
    main()
