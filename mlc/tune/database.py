"""The tuning database: measured candidates in SQLite, keyed by workload, target and mlc version.

A *workload* is one PrimFunc, known by its structural hash (its name and
the ``global_symbol`` attribute left out, so one kernel under two names is
one workload). A *record* is one measured candidate: its trace (JSON), its
run times in seconds (empty when it failed, with the reason), the design
space and decisions it came from, the structural hash of the scheduled IR,
and the time it was measured.

A record may be *unmeasured*: built and checked against the reference but
never timed (``mlc.tune(..., target="cuda")`` on a machine without a GPU
checks candidates on the CUDA emulator). Unmeasured records have no run
times, are never "best" (:meth:`Database.top_k` and :meth:`Database.best_trace`
skip them, so a build with the database keeps the default rules), and say
so in :meth:`Database.dump`.

The file is opened in WAL mode and every write is one short ``BEGIN
IMMEDIATE`` transaction, so several tuning processes can write one database
at once. ``mlc.build(mod, target, database=db)`` asks :meth:`Database.best_trace`
for each unscheduled function.

>>> import mlc, tempfile, os
>>> from mlc import te
>>> A = te.placeholder((8,), "float32", "A")
>>> B = te.compute((8,), lambda i: A[i] * 2, "B")
>>> func = te.create_prim_func([A, B])
>>> db = Database(os.path.join(tempfile.mkdtemp(), "db.sqlite"))
>>> sch = mlc.Schedule(mlc.IRModule({"main": func}))
>>> rid = db.commit(func, "llvm", sch.trace, [1e-6, 2e-6])
>>> db.best_trace(func, "llvm") is not None, db.best_trace(func, "reference")
(True, None)
"""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import statistics
import threading
import time
from dataclasses import dataclass

from ..errors import MLCError
from ..ir.structural import structural_hash
from ..schedules.trace import Trace
from ..target import Target
from ..version import __version__

__all__ = ["Database", "Record", "workload_key", "normalize_func"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workloads (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    target TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    script TEXT NOT NULL,
    flops REAL NOT NULL DEFAULT 0,
    UNIQUE (hash, target, version)
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    workload INTEGER NOT NULL REFERENCES workloads(id),
    trace TEXT NOT NULL,
    times TEXT NOT NULL,
    median_s REAL,
    error TEXT,
    space TEXT NOT NULL DEFAULT '',
    decisions TEXT NOT NULL DEFAULT '[]',
    ir_hash TEXT NOT NULL DEFAULT '',
    measured_at REAL NOT NULL,
    unmeasured INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_by_workload ON records (workload, median_s);
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY,
    workload INTEGER NOT NULL REFERENCES workloads(id),
    record INTEGER NOT NULL REFERENCES records(id),
    ratio REAL,
    default_s REAL,
    candidate_s REAL,
    decided_at REAL NOT NULL
);
"""


def normalize_func(func):
    """``func`` without the attributes that name it (``global_symbol``) or say who scheduled it."""
    attrs = tuple((k, v) for k, v in func.attrs if k not in ("global_symbol", "mlc.scheduled"))
    return dataclasses.replace(func, attrs=attrs)


def workload_key(func) -> str:
    """The structural hash of ``func`` (a PrimFunc), as the database keys it."""
    return f"{structural_hash(normalize_func(func)) & 0xFFFFFFFFFFFFFFFF:016x}"


def _target_key(target) -> str:
    return str(target if isinstance(target, Target) else Target.from_str(target))


def _version() -> str:
    return __version__


@dataclass(frozen=True)
class Record:
    """One measured candidate of a workload."""
    id: int
    workload: str
    target: str
    trace_json: str
    times: tuple[float, ...]
    error: str | None
    space: str
    decisions: list
    ir_hash: str
    measured_at: float
    unmeasured: bool = False

    @property
    def ok(self) -> bool:
        """The candidate was built, gave the right answer and was timed."""
        return self.error is None and bool(self.times)

    @property
    def failed(self) -> bool:
        """The candidate failed (build error, crash, time-out, wrong answer): ``error`` says why."""
        return self.error is not None

    @property
    def median_s(self) -> float:
        """The median of the measured run times in seconds (infinite for a failed candidate):
        the median, not the mean, so that one repeat slowed by another process does not decide."""
        return statistics.median(self.times) if self.ok else float("inf")

    def trace(self):
        """The record's trace, to replay on a Schedule of its workload."""
        return Trace.from_json(self.trace_json)


class Database:
    """A SQLite file of tuning records (created when missing)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        self._conn: sqlite3.Connection | None = None
        self._pid = None
        self._lock = threading.RLock()
        #: the tasks of the last mlc.tune run that returned this database (its summary's rows)
        self.last_tasks: list = []
        #: how the last mlc.tune run measured its candidates: "time", or "check" (not timed)
        self.last_measure: str | None = None
        self._connect()

    # ------------------------------------------------------------ connection
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            # one connection per process, shared by its threads (a jitted function may first be
            # called from any thread); writes take the lock, SQLite serialises the rest
            try:
                conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.DatabaseError as err:  # a directory, a folder we may not write, not SQLite
                raise MLCError(f"tuning database {self.path!r} cannot be opened: {err}; give the path of a "
                               "tuning database file (created when missing) in a folder you may write") from None
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(records)")}
            if "unmeasured" not in columns:  # a file written before unmeasured records existed
                conn.execute("ALTER TABLE records ADD COLUMN unmeasured INTEGER NOT NULL DEFAULT 0")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    class _Txn:
        def __init__(self, db):
            self.conn, self.lock = db._connect(), db._lock

        def __enter__(self):
            self.lock.acquire()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.lock.release()
                raise
            return self.conn

        def __exit__(self, kind, *_):
            try:
                self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
            finally:
                self.lock.release()

    def _write(self):
        return Database._Txn(self)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def __repr__(self) -> str:
        return f"<mlc.tune.Database {self.path!r}: {self.count()} records>"

    # ---------------------------------------------------------------- writes
    def workload_id(self, func, target, flops: float = 0.0) -> int:
        """The row of ``func`` for ``target`` (added when new)."""
        key, tkey = workload_key(func), _target_key(target)
        conn = self._connect()
        row = conn.execute("SELECT id FROM workloads WHERE hash=? AND target=? AND version=?",
                           (key, tkey, _version())).fetchone()
        if row:
            return row[0]
        name = dict(func.attrs).get("global_symbol", "main")
        with self._write() as c:
            c.execute("INSERT OR IGNORE INTO workloads (hash, target, version, name, script, flops) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (key, tkey, _version(), str(name), func.script(), flops))
        return conn.execute("SELECT id FROM workloads WHERE hash=? AND target=? AND version=?",
                            (key, tkey, _version())).fetchone()[0]

    def commit(self, func, target, trace, times, error: str | None = None, space: str = "",
               decisions=(), ir_hash: str = "", flops: float = 0.0, unmeasured: bool = False) -> int:
        """Record one measured candidate of ``func``; ``trace`` a Trace or its JSON. Returns its id.

        ``unmeasured=True`` records a candidate that was built and checked but not timed
        (no ``times``): it is kept, and never taken for the best."""
        trace_json = trace if isinstance(trace, str) else trace.to_json()
        times = [float(t) for t in (times or [])]
        if unmeasured and times:
            raise MLCError(f"Database.commit: an unmeasured candidate has no run times, got times={times}; "
                           "pass unmeasured=False with the times, or no times")
        if error is None and not times and not unmeasured:
            raise MLCError("Database.commit: a candidate without an error needs its run times; "
                           "pass times=[seconds, ...], error='why it failed', or unmeasured=True for a "
                           "candidate that was checked but not timed")
        wid = self.workload_id(func, target, flops)
        median = statistics.median(times) if times and error is None else None
        with self._write() as c:
            cur = c.execute("INSERT INTO records (workload, trace, times, median_s, error, space, decisions, "
                            "ir_hash, measured_at, unmeasured) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (wid, trace_json, json.dumps(times), median, error, space, json.dumps(decisions),
                             ir_hash, time.time(), int(bool(unmeasured))))
            return cur.lastrowid

    def commit_verdict(self, func, target, record_id: int, ratio: float | None = None,
                       default_s: float | None = None, candidate_s: float | None = None) -> None:
        """Say which record of ``func`` on ``target`` a build should use from now on: the
        winner of the tuner's final race between its best candidate and the default schedule
        (:mod:`~mlc.tune.confirm`; ``ratio`` the candidate's time over the default's and
        their median times, measured side by side). The latest verdict decides
        :meth:`best_trace`."""
        wid = self.workload_id(func, target)
        with self._write() as c:
            c.execute("INSERT INTO verdicts (workload, record, ratio, default_s, candidate_s, decided_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (wid, int(record_id), ratio, default_s, candidate_s, time.time()))

    def champion(self, func, target) -> Record | None:
        """The record the latest verdict for ``func`` on ``target`` chose, or None (no verdict:
        the tuner was interrupted before its final race, or the records came from elsewhere)."""
        where, params = self._where(func, target)
        row = self._connect().execute(
            f"SELECT {self._COLUMNS} FROM verdicts v JOIN records r ON v.record = r.id "
            f"JOIN workloads w ON v.workload = w.id WHERE {where} ORDER BY v.id DESC LIMIT 1", params).fetchone()
        return self._record(row) if row else None

    # ----------------------------------------------------------------- reads
    _COLUMNS = ("r.id, w.hash, w.target, r.trace, r.times, r.error, r.space, r.decisions, r.ir_hash, "
                "r.measured_at, r.unmeasured")

    @staticmethod
    def _record(row) -> Record:
        rid, whash, target, trace, times, error, space, decisions, ir_hash, at, unmeasured = row
        return Record(rid, whash, target, trace, tuple(json.loads(times)), error, space, json.loads(decisions),
                      ir_hash, at, bool(unmeasured))

    def _where(self, func=None, target=None) -> tuple[str, list]:
        clauses, params = ["w.version = ?"], [_version()]
        if func is not None:
            clauses.append("w.hash = ?")
            params.append(workload_key(func))
        if target is not None:
            clauses.append("w.target = ?")
            params.append(_target_key(target))
        return " AND ".join(clauses), params

    def records(self, func=None, target=None) -> list[Record]:
        """Every record (of ``func`` on ``target`` when given), in the order measured."""
        where, params = self._where(func, target)
        rows = self._connect().execute(
            f"SELECT {self._COLUMNS} FROM records r JOIN workloads w ON r.workload = w.id "
            f"WHERE {where} ORDER BY r.id", params).fetchall()
        return [self._record(r) for r in rows]

    def top_k(self, func, target, k: int = 1, space=None) -> list[Record]:
        """The ``k`` fastest successful timed records of ``func`` on ``target``, fastest first
        (unmeasured records have no time and are never among them); ``space`` (a space's name
        or its function) keeps that design space's records only, leaving out the default
        schedule the tuner also measures."""
        where, params = self._where(func, target)
        if space is not None:
            where += " AND r.space = ?"
            params.append(space if isinstance(space, str) else getattr(space, "__name__", "custom"))
        rows = self._connect().execute(
            f"SELECT {self._COLUMNS} FROM records r JOIN workloads w ON r.workload = w.id "
            f"WHERE {where} AND r.median_s IS NOT NULL ORDER BY r.median_s, r.id LIMIT ?", params + [int(k)]).fetchall()
        return [self._record(r) for r in rows]

    def best_trace(self, func, target, space=None):
        """The trace of the best record of ``func`` (a PrimFunc) on ``target``, or None: the
        one the latest verdict chose (:meth:`champion`; the default schedule's when no
        candidate beat it side by side), else the fastest; ``space``: the fastest of that
        design space only (see :meth:`top_k`).

        The trace names no function (``func_name=None``): replay it on a Schedule of
        a module holding ``func`` alone.
        """
        if space is None:
            chosen = self.champion(func, target)
            if chosen is not None:
                return chosen.trace()
        best = self.top_k(func, target, 1, space)
        return best[0].trace() if best else None

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM records").fetchone()[0]

    def workloads(self) -> list[dict]:
        """Every workload of this mlc version: hash, target, name, script and flops."""
        rows = self._connect().execute("SELECT hash, target, name, script, flops FROM workloads "
                                       "WHERE version = ? ORDER BY id", (_version(),)).fetchall()
        return [dict(zip(("hash", "target", "name", "script", "flops"), r)) for r in rows]

    def dump(self) -> str:
        """A readable summary: per workload and target, every record (best first)."""
        lines = []
        for w in self.workloads():
            where = "w.hash = ? AND w.target = ? AND w.version = ?"
            rows = self._connect().execute(
                f"SELECT {self._COLUMNS} FROM records r JOIN workloads w ON r.workload = w.id WHERE {where} "
                "ORDER BY r.median_s IS NULL, r.median_s, r.id", (w["hash"], w["target"], _version())).fetchall()
            records = [self._record(r) for r in rows]
            failed = sum(r.failed for r in records)
            unmeasured = sum(r.unmeasured and not r.failed for r in records)
            lines.append(f"workload {w['name']} ({w['hash']}) on {w['target']}: {len(records)} records, "
                         f"{failed} failed" + (f", {unmeasured} UNMEASURED (checked, never timed)"
                                               if unmeasured else ""))
            for r in records:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.measured_at))
                what = f"{r.median_s * 1e6:12.1f} us" if r.ok else \
                    f"{'failed' if r.failed else 'not timed':>15}"
                rate = f" {w['flops'] / r.median_s / 1e9:8.2f} GFLOP/s" if r.ok and w["flops"] else ""
                lines.append(f"  #{r.id:<5} {what}{rate}  {r.space:<8} {when}  "
                             f"{r.error if r.failed else json.dumps(r.decisions)}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- plots
    def plot(self, path: str | os.PathLike, target=None) -> str:
        """Draw best-so-far GFLOP/s (1/ms where the FLOPs are unknown) against trials, one line
        per workload, into the image ``path`` (matplotlib, drawn off-screen); returns the path."""
        try:  # deferred: keeps `import mlc.tune` fast, and matplotlib optional
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise MLCError("Database.plot needs matplotlib: pip install 'mlc[tune]'") from None
        fig = Figure(figsize=(7, 4.5))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        any_flops = False
        for w in self.workloads():
            if target is not None and w["target"] != _target_key(target):
                continue
            rows = self._connect().execute(
                "SELECT r.median_s FROM records r JOIN workloads w ON r.workload = w.id "
                "WHERE w.hash = ? AND w.target = ? AND w.version = ? ORDER BY r.id",
                (w["hash"], w["target"], _version())).fetchall()
            best, curve = float("inf"), []
            for (median,) in rows:
                if median is not None:
                    best = min(best, median)
                rate = (w["flops"] / best / 1e9 if w["flops"] else 1e-3 / best) if best < float("inf") else 0.0
                curve.append(rate)
            any_flops |= bool(w["flops"])
            ax.plot(range(1, len(curve) + 1), curve, drawstyle="steps-post", label=f"{w['name']} ({w['hash'][:8]})")
        ax.set_xlabel("trials")
        ax.set_ylabel("best GFLOP/s so far" if any_flops else "best 1/ms so far")
        ax.set_title(f"mlc.tune: {os.path.basename(self.path)}")
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=100)
        return path
