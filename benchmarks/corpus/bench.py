"""``python -m benchmarks corpus [name ...] [--rounds N] [--json FILE] [--md FILE]``: the corpus'
programs (:mod:`.programs`) at their benchmark sizes, NumPy against ``@mlc.jit``, Numba's
``@njit`` (the same source) and ``jax.jit`` (:mod:`.jax_versions`: the functional version,
or the same source on ``jax.numpy`` where it writes nothing in place).

Each program runs in a process of its own (a program that takes minutes to compile, or
crashes, costs only its row), with a time limit. There, each contender is built and called
once (the first call: trace + compile + run; mlc from an empty object cache), its result
compared with NumPy's (the return value, or for a program that writes into its arguments
those arrays), then timed in rounds: each round times every contender once, a batch of
calls of about 10 ms, in a rotated order, 0.2 s apart; the table gives the median over rounds. A program
that writes into its arguments gets fresh copies for each call, made before the batch (not
timed). Ratios are NumPy's median over the contender's (> 1: faster than NumPy); geometric
means over the programs where both ran and matched NumPy, of the medians and of the best
rounds (on a loaded host a round whose threads were descheduled is slower many times over).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

PEERS = ("numpy", "mlc", "numba", "jax")

#: Seconds between contenders: the thread pools of the one before (OpenBLAS's, XLA's, mlc's) stop
#: spinning (benchmarks/harness.py's PAUSE_S; 0.02 s left mlc's threads sharing the cores with them)
PAUSE_S = 0.2


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _close(got, want, rtol, atol) -> bool:
    if isinstance(want, tuple):
        return (isinstance(got, (tuple, list)) and len(got) == len(want)
                and all(_close(g, w, rtol, atol) for g, w in zip(got, want)))
    if want is None:
        return got is None
    got, want = np.asarray(got), np.asarray(want)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))


def _first_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().splitlines()
    return text[0][:160] if text else type(e).__name__


def _builders(p, args, written):
    """peer -> (build() -> call(args), how its result compares with NumPy's: 'numpy' (the
    program's own return and written arguments) or 'functional' (what the JAX version returns))."""
    statics = {name: args[p.fn.__code__.co_varnames.index(name)] for name in p.static}

    def mlc_build():
        import mlc
        f = mlc.jit(p.fn, static_argnames=p.static)
        return lambda a: f(*a)

    def numba_build():
        import numba
        f = numba.njit(p.fn)
        return lambda a: f(*a)

    def jax_build():
        import jax
        from .jax_versions import VERSIONS, as_jax
        fn = VERSIONS.get(p.name) or as_jax(p.fn)
        f = jax.jit(fn, static_argnames=p.static)
        names = p.fn.__code__.co_varnames[:p.fn.__code__.co_argcount]
        device = [jax.device_put(a) if isinstance(a, np.ndarray) else a for a in args]
        arrays = [(k, a) for k, a in enumerate(device) if names[k] not in statics]

        def call(_):
            kwargs = {names[k]: a for k, a in arrays}
            return jax.block_until_ready(f(**kwargs, **statics))
        return call
    return {"numpy": (lambda: (lambda a: p.fn(*a)), "numpy"), "mlc": (mlc_build, "numpy"),
            "numba": (numba_build, "numpy"), "jax": (jax_build, "functional")}


def run_one(name: str, rounds: int, batch_s: float) -> dict:
    from .programs import PROGRAMS
    p = PROGRAMS[name]
    args = p.make(p.bench_n, np.random.default_rng(0))
    before = _copies(args)
    want = p.fn(*before)
    written = [k for k, (a, b) in enumerate(zip(args, before))
               if isinstance(a, np.ndarray) and not np.array_equal(a, b, equal_nan=True)]
    functional = want if want is not None else (before[written[0]] if len(written) == 1
                                                else tuple(before[k] for k in written))
    names = p.fn.__code__.co_varnames[:p.fn.__code__.co_argcount]
    row = {"name": name, "kind": p.kind, "size": p.bench_n, "writes_arguments": bool(written), "peers": {},
           "static": {k: v for k, v in zip(names, args) if k in p.static},
           "shapes": [list(a.shape) for a in args if isinstance(a, np.ndarray)]}
    calls = {}
    for peer, (build, compare) in _builders(p, args, written).items():
        entry = row["peers"][peer] = {"status": "ok"}
        try:
            start = time.perf_counter()
            call = build()
            mine = _copies(args)
            got = call(mine)
            entry["first_call_s"] = time.perf_counter() - start
        except Exception as e:  # noqa: BLE001 - a contender that refuses the program is a row's status
            entry["status"] = "refused: " + _first_line(e)
            continue
        if compare == "numpy":
            ok = _close(got, want, p.rtol, p.atol) and all(_close(mine[k], before[k], p.rtol, p.atol)
                                                            for k in written)
        else:
            ok = _close(got, functional, p.rtol, p.atol)
        if not ok:
            entry["status"] = "differs from NumPy"
        calls[peer] = call
    copying = bool(written)
    numbers = {}
    for peer, call in calls.items():  # a batch of about batch_s
        start, k = time.perf_counter(), 0
        while time.perf_counter() - start < batch_s / 4 or k < 1:
            call(_copies(args) if copying else args)
            k += 1
        numbers[peer] = max(1, round(k * batch_s * 4 / max(time.perf_counter() - start, 1e-9) / 4))
    times = {peer: [] for peer in calls}
    order = list(calls)
    for r in range(rounds):
        for peer in order[r % len(order):] + order[:r % len(order)]:
            n = numbers[peer]
            inputs = [_copies(args) if copying else args for _ in range(n)]
            start = time.perf_counter()
            for a in inputs:
                calls[peer](a)
            times[peer].append((time.perf_counter() - start) / n)
            time.sleep(PAUSE_S)
    for peer, ts in times.items():
        row["peers"][peer]["median_s"] = statistics.median(ts)
        row["peers"][peer]["best_s"] = min(ts)
        row["peers"][peer]["times_s"] = ts
    return row


def _host() -> str:
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:  # noqa: BLE001 - not Linux: the platform's name
        pass
    return f"{model}, {os.cpu_count()} cores"


def _fmt(s: float | None) -> str:
    if s is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def table(rows: list[dict]) -> str:
    """The markdown table of ``rows``, footnotes for the statuses and the geometric means."""
    lines = ["| program | size | NumPy | mlc | Numba | JAX | mlc vs NumPy | Numba vs NumPy | JAX vs NumPy "
             "| mlc vs Numba | mlc vs JAX | mlc first call |", "|" + "---|" * 12]
    ratios = {k: [] for k in ("mlc", "numba", "jax", "mlc/numba", "mlc/jax")}
    best = {k: [] for k in ratios}
    notes = []

    def median(row, peer, key="median_s"):
        e = row["peers"].get(peer, {})
        return e.get(key) if e.get("status") == "ok" else None

    for row in rows:
        if "error" in row:
            lines.append(f"| {row['name']} | | | {row['error']} | | | | | | | | |")
            continue
        m = {peer: median(row, peer) for peer in PEERS}
        b = {peer: median(row, peer, "best_s") for peer in PEERS}
        cells = []
        for peer in PEERS:
            e = row["peers"].get(peer, {})
            if e.get("status", "ok") == "ok":
                cells.append(_fmt(e.get("median_s")))
            else:
                notes.append(f"{row['name']}, {peer}: {e['status']}")
                cells.append(f"({len(notes)})")
        rel = []
        for key, num, den in (("mlc", "numpy", "mlc"), ("numba", "numpy", "numba"), ("jax", "numpy", "jax"),
                              ("mlc/numba", "numba", "mlc"), ("mlc/jax", "jax", "mlc")):
            if m[num] and m[den]:
                ratios[key].append(m[num] / m[den])
                best[key].append(b[num] / b[den])
                rel.append(f"{m[num] / m[den]:.2f}x")
            else:
                rel.append("—")
        first = row["peers"].get("mlc", {}).get("first_call_s")
        lines.append(f"| {row['name']} | {row['size']} | " + " | ".join(cells + rel) + f" | {_fmt(first)} |")

    def geo(v):
        return f"{math.exp(sum(map(math.log, v)) / len(v)):.2f}x over {len(v)}" if v else "—"
    lines.append("")
    for title, values in (("medians", ratios), ("best rounds", best)):
        lines.append(f"Geometric means of the {title} (over the programs where both ran and matched NumPy): "
                     + "; ".join(f"{k.replace('/', ' vs ')}{'' if '/' in k else ' vs numpy'} {geo(v)}"
                                 for k, v in values.items()))
        lines.append("")
    if notes:
        lines.append("")
        lines.extend(f"({k}) {n}" for k, n in enumerate(notes, 1))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch-ms", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per program (its process)")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="write one table of the rows of earlier runs' JSON files (runs of parts of the corpus)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.rounds, args.batch_ms / 1e3)))
        return 0
    from .programs import PROGRAMS
    if args.merge:
        runs = [json.load(open(path)) for path in args.merge]
        by_name = {row["name"]: row for run in runs for row in run["rows"]}
        rows = [by_name[n] for n in PROGRAMS if n in by_name]
        loads = [run["load_start"][0] for run in runs] + [run["load_end"][0] for run in runs]
        rounds = "/".join(str(r) for r in sorted({run["rounds"] for run in runs}))
        header = (f"host: {runs[0]['host']}; the rows of {len(runs)} runs (a later run's row replaces an earlier "
                  f"one's), load average {min(loads):.2f} to {max(loads):.2f}; {rounds} rounds; versions: "
                  + ", ".join(f"{k} {v}" for k, v in runs[0]["versions"].items()))
        _write(args, header, rows, runs[0]["host"], runs[0]["versions"], (min(loads), max(loads)))
        return 0
    names = args.names or list(PROGRAMS)
    unknown = [n for n in names if n not in PROGRAMS]
    if unknown:
        print(f"unknown program(s) {unknown}; choose from {list(PROGRAMS)}", file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    began, load = time.time(), os.getloadavg()
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="mlc-corpus-cache-") as cache:
            env = {**os.environ, "MLC_CACHE_DIR": cache,
                   "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
            cmd = [sys.executable, "-m", "benchmarks.corpus.bench", "--one", name, "--rounds", str(args.rounds),
                   "--batch-ms", str(args.batch_ms)]
            try:
                out = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=args.timeout)
                row = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else \
                    {"name": name, "error": "crashed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:160]}
            except subprocess.TimeoutExpired:
                row = {"name": name, "error": f"timeout ({args.timeout:.0f} s)"}
        rows.append(row)
        print(f"{name}: " + (row.get("error") or ", ".join(
            f"{k} {_fmt(v.get('median_s'))}" + ("" if v["status"] == "ok" else f" [{v['status']}]")
            for k, v in row["peers"].items())), file=sys.stderr, flush=True)
    versions = {}
    for mod in ("numpy", "numba", "jax"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            versions[mod] = None
    header = (f"host: {_host()}; load average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
              f"{args.rounds} rounds; versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    _write(args, header, rows, _host(), versions, load, os.getloadavg())
    print(f"(total {time.time() - began:.0f} s)", file=sys.stderr)
    return 0


def _write(args, header, rows, host, versions, load_start, load_end=None) -> None:
    text = table(rows)
    print(header)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"host": host, "date": datetime.date.today().isoformat(), "load_start": list(load_start),
                       "load_end": list(load_end or load_start), "rounds": args.rounds, "versions": versions,
                       "rows": rows, "table": text}, f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write(f"# The corpus of NumPy programs against NumPy, Numba and JAX, "
                    f"{datetime.date.today().isoformat()}\n\n`python -m benchmarks corpus`: "
                    f"{__doc__.split(chr(10) + chr(10), 1)[1].strip()}\n\n{header}\n\n{text}\n")


if __name__ == "__main__":
    sys.exit(main())
