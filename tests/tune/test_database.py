"""The tuning database: keys, ordering, round trip through mlc.build, two writers at once."""
import multiprocessing as mp
import sqlite3

import numpy as np
import pytest

import mlc
from mlc.target import Target
from mlc.tune import Database, space, workload_key

from .workloads import matmul


def _trace(mod, seed):
    return space.replay(mod, space.TILED, "llvm", seed=seed).trace


def test_records_are_keyed_by_workload_target_and_sorted_by_time(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    mod = matmul(16, 16, 16, name="main")
    func = mod["main"]
    other = matmul(16, 16, 8, name="main")["main"]
    db.commit(func, "llvm", _trace(mod, 0), [3e-6, 3e-6, 4e-6])
    db.commit(func, "llvm", _trace(mod, 1), [1e-6, 9e-6, 1e-6])        # median 1 us: the best
    db.commit(func, "llvm", _trace(mod, 2), None, error="run: timed out after 1 s")
    elsewhere = next(t for t in ("llvm -mcpu=haswell", "llvm -mcpu=skylake-avx512")
                     if t != str(Target.from_str("llvm")))  # another CPU than this host's
    db.commit(func, elsewhere, _trace(mod, 3), [5e-7])
    assert [r.median_s for r in db.top_k(func, "llvm", 5)] == [1e-6, 3e-6]
    assert len(db.records(func, "llvm")) == 3 and not db.records(func, "llvm")[2].ok
    assert db.top_k(other, "llvm") == [] and db.best_trace(other, "llvm") is None
    assert db.top_k(func, elsewhere)[0].median_s == 5e-7
    text = db.dump()
    assert "3 records, 1 failed" in text and "timed out" in text


def test_the_workload_key_ignores_the_function_name():
    a = matmul(8, 8, 8, name="a")["a"]
    b = matmul(8, 8, 8, name="fused_dense")["fused_dense"]
    assert workload_key(a) == workload_key(b) != workload_key(matmul(8, 8, 4, name="a")["a"])


def test_the_best_trace_round_trips_through_build(tmp_path):
    mod = matmul(24, 40, 12, relu=True, name="main")
    db = Database(tmp_path / "db.sqlite")
    db.commit(mod["main"], "llvm", _trace(mod, 5), [1e-6])
    # another name for the same kernel, in a module of its own: the trace names no function
    renamed = mlc.IRModule({"fused_mm_relu": mod["main"].with_attr("global_symbol", "fused_mm_relu")})
    from mlc.tune.search import _module_agnostic
    db2 = Database(tmp_path / "db2.sqlite")
    db2.commit(mod["main"], "llvm", _module_agnostic(_trace(mod, 5).to_json()), [1e-6])
    trace = db2.best_trace(renamed["fused_mm_relu"], "llvm")
    lib = mlc.build(renamed, "llvm", schedule=trace)
    a = np.random.default_rng(0).uniform(-1, 1, (24, 12)).astype("float32")
    b = np.random.default_rng(1).uniform(-1, 1, (12, 40)).astype("float32")
    out = np.zeros((24, 40), "float32")
    lib["fused_mm_relu"](a, b, out)
    np.testing.assert_allclose(out, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)
    assert db.best_trace(mod["main"], "llvm") is not None


def test_a_record_without_times_must_say_why_it_failed(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    mod = matmul(8, 8, 8, name="main")
    with pytest.raises(mlc.MLCError, match="needs its run times"):
        db.commit(mod["main"], "llvm", _trace(mod, 0), [])


def _writer(path, n, start):
    db = Database(path)
    mod = matmul(8, 8, 8, name="main")
    trace = space.replay(mod, space.TILED, "llvm", seed=0).trace.to_json()
    start.wait()
    for k in range(n):
        db.commit(mod["main"], "llvm", trace, [1e-6 * (k + 1)])


def test_two_processes_write_one_database_at_once(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    Database(path)
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, 40, start)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    db = Database(path)
    assert db.count() == 80
    assert len(db.workloads()) == 1
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_plot_draws_the_tuning_curve(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    mod = matmul(8, 8, 8, name="main")
    for k, t in enumerate([4e-6, 2e-6, 3e-6]):
        db.commit(mod["main"], "llvm", _trace(mod, k), [t], flops=1024)
    path = db.plot(tmp_path / "curve.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_threads_of_one_process_share_a_database(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    db = Database(tmp_path / "db.sqlite")
    mod = matmul(8, 8, 8, name="main")
    trace = _trace(mod, 0).to_json()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: db.commit(mod["main"], "llvm", trace, [1e-6 * (k + 1)]), range(40)))
    assert db.count() == 40 and db.top_k(mod["main"], "llvm")[0].median_s == 1e-6


@pytest.mark.parametrize("make", [lambda d: d, lambda d: d / "not-sqlite.db"])
def test_a_path_that_is_no_database_file_is_an_mlc_error(tmp_path, make):
    path = make(tmp_path)
    if path != tmp_path:
        path.write_text("not a database")
    with pytest.raises(mlc.MLCError, match=r"tuning database .* cannot be opened: .*give the path of a tuning "
                                           r"database file"):
        Database(path)


def test_tune_names_an_unknown_option_and_lists_the_known_ones():
    with pytest.raises(TypeError, match=r"mlc.tune\(\) got unexpected option\(s\) 'bogus'; its options are "
                                        r"TuneConfig's fields: trials, .*database"):
        mlc.tune(matmul(8, 8, 8), "llvm", trials=2, bogus=1)
