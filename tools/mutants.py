"""Mutation testing: do the tests notice small, plausible changes to the code?

Each mutant in ``tools/mutants.toml`` names a file, an exact snippet of it
(present exactly once), the snippet it becomes, and the test files or test
node ids that cover it. For each mutant this tool copies the tree once into a
temporary folder (the working tree is never edited), writes the mutated file
there, runs the covering tests with ``-x`` and a timeout, and restores the
file. A mutant is *caught* when the tests fail (or time out), *survived*
when they pass. It prints one line per mutant and the catch rate.

    python tools/mutants.py                 # every mutant
    python tools/mutants.py -k arith -k fuse  # ids containing any of the words
    python tools/mutants.py --package mlc/backends/cuda --package mlc/passes/tir
                                            # mutants of files under these folders
    python tools/mutants.py --list          # ids, files and covering tests
    python tools/mutants.py --check         # every original snippet is still there

Before the run, the unmutated tree must pass every covering selection
(``--baseline``, on by default): a selection failing on the original code
would count every mutant it covers as caught.

This is a developer tool, not part of the test suite (a full run takes
several minutes); ``tests/test_mutants_list.py`` keeps the list from rotting.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "mutants.toml"
IGNORED = shutil.ignore_patterns(".git", ".hypothesis", "__pycache__", "*.pyc", ".pytest_cache",
                                 "build", "*.egg-info", ".venv")


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    mutated: str
    tests: tuple[str, ...]
    why: str = ""


def load(path: Path = DATA) -> list[Mutant]:
    """The mutants listed in ``path`` (a TOML file of ``[[mutant]]`` tables)."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    out = []
    for entry in data["mutant"]:
        out.append(Mutant(entry["id"], entry["file"], entry["original"], entry["mutated"],
                          tuple(entry["tests"]), entry.get("why", "")))
    return out


def problems(mutants: list[Mutant], root: Path = ROOT) -> list[str]:
    """What is wrong with the list: unknown files, snippets not found exactly once, ..."""
    out, seen = [], set()
    for m in mutants:
        if m.id in seen:
            out.append(f"{m.id}: duplicate id")
        seen.add(m.id)
        path = root / m.file
        if not path.is_file():
            out.append(f"{m.id}: no file {m.file}")
            continue
        count = path.read_text().count(m.original)
        if count != 1:
            out.append(f"{m.id}: the original snippet occurs {count} times in {m.file}, not once")
        if m.original == m.mutated:
            out.append(f"{m.id}: the mutated snippet equals the original")
        if not m.tests:
            out.append(f"{m.id}: no covering tests")
        for t in m.tests:
            if not (root / t.split("::")[0]).is_file():
                out.append(f"{m.id}: no test file {t.split('::')[0]}")
    return out


def package_of(m: Mutant) -> str:
    """The package a mutant belongs to: the folder of its file (``mlc/passes/tir``)."""
    return str(Path(m.file).parent)


def scores(caught: list[Mutant], survived: list[Mutant]) -> dict[str, tuple[int, int]]:
    """(caught, total) per package, packages in name order."""
    out: dict[str, list[int]] = {}
    for m in caught:
        out.setdefault(package_of(m), [0, 0])[0] += 1
    for m in caught + survived:
        out.setdefault(package_of(m), [0, 0])[1] += 1
    return {p: (c, t) for p, (c, t) in sorted(out.items())}


def score_table(caught: list[Mutant], survived: list[Mutant]) -> str:
    """One line per package: caught of total and the percentage, marked where below 90%."""
    lines = []
    for package, (c, t) in scores(caught, survived).items():
        mark = "" if c >= 0.9 * t else "   < 90%"
        lines.append(f"  {package:40} {c:3} of {t:3}  {100 * c / t:5.1f}%{mark}")
    return "\n".join(lines)


def run_tests(tree: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """('pass' | 'fail' | 'timeout', seconds, tail of the output) of the tests in ``tree``."""
    env = dict(os.environ, MLC_CACHE_DIR=str(tree / ".mlc-cache"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("CI", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header",
           "-o", "addopts=", "--hypothesis-seed=0", *tests]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, ""
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    return ("pass" if proc.returncode == 0 else "fail"), time.monotonic() - start, " | ".join(tail)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", action="append", default=[], help="only mutants whose id contains this")
    ap.add_argument("--package", action="append", default=[],
                    help="only mutants of files under this folder (mlc/passes/tir)")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant's tests")
    ap.add_argument("--list", action="store_true", help="list the mutants and stop")
    ap.add_argument("--check", action="store_true", help="check the list against the tree and stop")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run on the unmutated tree")
    ap.add_argument("--skip-missing", action="store_true",
                    help="drop covering tests whose files do not exist (to measure an older tree)")
    args = ap.parse_args(argv)

    mutants = load()
    if args.k:
        mutants = [m for m in mutants if any(word in m.id for word in args.k)]
    if args.package:
        mutants = [m for m in mutants
                   if any(Path(m.file).is_relative_to(p.rstrip("/")) for p in args.package)]
    if args.skip_missing:
        mutants = [replace(m, tests=tuple(t for t in m.tests if (ROOT / t.split("::")[0]).is_file()))
                   for m in mutants]
        uncovered = [m for m in mutants if not m.tests]
        mutants = [m for m in mutants if m.tests]
        for m in uncovered:
            print(f"no covering test file exists for {m.id}: counted as survived")
    bad = problems(mutants)
    if bad or args.check:
        print("\n".join(bad) or f"{len(mutants)} mutants, all snippets found exactly once")
        return 1 if bad else 0
    if args.list:
        for m in mutants:
            print(f"{m.id:34} {m.file:48} {' '.join(m.tests)}")
        return 0

    with tempfile.TemporaryDirectory(prefix="mlc-mutants-") as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(ROOT, tree, ignore=IGNORED)
        if not args.no_baseline:
            selections = sorted({m.tests for m in mutants})
            for tests in selections:
                status, secs, tail = run_tests(tree, tests, args.timeout)
                if status != "pass":
                    print(f"baseline {status} ({secs:.0f}s) for {' '.join(tests)}: {tail}")
                    return 2
            print(f"baseline: {len(selections)} covering selections pass on the unmutated tree")
        caught, survived = [], []
        for n, m in enumerate(mutants, 1):
            path = tree / m.file
            text = path.read_text()
            path.write_text(text.replace(m.original, m.mutated, 1))
            try:
                status, secs, tail = run_tests(tree, m.tests, args.timeout)
            finally:
                path.write_text(text)
            verdict = "SURVIVED" if status == "pass" else "caught"
            (survived if status == "pass" else caught).append(m)
            print(f"[{n:3}/{len(mutants)}] {verdict:8} {m.id:34} {secs:5.1f}s  ({status})", flush=True)
    if args.skip_missing:
        survived += uncovered
    total = len(caught) + len(survived)
    print(f"\ncaught {len(caught)} of {total} mutants ({100 * len(caught) / max(total, 1):.0f}%)")
    print("score per package:")
    print(score_table(caught, survived))
    for m in survived:
        print(f"  survived: {m.id} ({m.file}): {m.why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
