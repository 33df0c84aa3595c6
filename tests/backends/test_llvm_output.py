"""What LLVM prints reaches the user's terminal only under MLC_DEBUG.

A vectorized loop that LLVM was asked to vectorize and could not (the
default schedule of a tiny int32 matmul has some) makes LLVM's default
diagnostic handler write "remark: ... loop not vectorized" to fd 2. Builds
compile afresh here (an empty object cache), and fd 2 is read with ``capfd``.
"""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import mlc
from mlc.backends.llvm.output import captured_stderr, llvm_output
from mlc.config import override

REMARK = "remark: <unknown>:0:0: loop not vectorized: as LLVM writes it\n"
REPO = pathlib.Path(__file__).resolve().parents[2]  # subprocesses import this checkout's mlc


def tiny_int_matmul():
    a = np.arange(6, dtype="int32").reshape(2, 3)
    b = np.arange(6, dtype="int32").reshape(3, 2)
    out = mlc.jit(lambda x, y: x @ y)(a, b)  # a new function: traced and compiled afresh
    np.testing.assert_array_equal(out, a @ b)


def test_llvm_remarks_do_not_reach_stderr(capfd, tmp_path):
    with override(cache_dir=str(tmp_path), debug=False):
        tiny_int_matmul()
    err = capfd.readouterr().err
    assert "remark" not in err and "not vectorized" not in err, err


def test_llvm_remarks_reach_stderr_under_mlc_debug(capfd, tmp_path):
    with override(cache_dir=str(tmp_path), debug=True):
        tiny_int_matmul()
    assert "loop not vectorized" in capfd.readouterr().err


def test_other_output_written_meanwhile_is_passed_on(capfd):
    with override(debug=False):
        with llvm_output():
            os.write(2, REMARK.encode())
            os.write(2, b"a line of someone else's\n")
    assert capfd.readouterr().err == "a line of someone else's\n"


def test_stderr_is_restored_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError), override(debug=True):
        with llvm_output():
            os.write(2, b"before the error\n")
            raise RuntimeError("LLVM failed")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before the error\nafter\n"


def test_a_remark_written_in_pieces_by_a_worker_across_a_nested_capture_is_still_dropped(capfd, monkeypatch):
    # LLVM writes a diagnostic in pieces ("remark", then ": <unknown>..."). A worker thread of a
    # build by parts (covered by the caller's capture) once wrote the first piece while the
    # caller had a capture of its own open inside the build's, and the rest just after that
    # one closed, before it passed its text on: neither half was a whole diagnostic line then,
    # and both reached the terminal. The worker's second piece is written at that moment here.
    import threading

    from mlc.backends.llvm import output
    first_written, second_written = threading.Event(), threading.Event()
    write = output._write

    def passing_on(fd, data):  # the nested capture passing its text on: the worker writes first
        if not second_written.is_set():
            release.set()
            second_written.wait(5)
        write(fd, data)

    release = threading.Event()

    def worker():
        with output.covered():
            os.write(2, b"remark")
            first_written.set()
            release.wait(5)
            os.write(2, REMARK.removeprefix("remark").encode())
            second_written.set()

    monkeypatch.setattr(output, "_write", passing_on)
    thread = threading.Thread(target=worker)
    with override(debug=False):
        with llvm_output():
            with llvm_output():  # the caller building a unit itself, beside the worker
                thread.start()
                first_written.wait(5)
            release.set()
            thread.join()
    monkeypatch.setattr(output, "_write", write)
    assert capfd.readouterr().err == ""


def test_nested_captures_each_see_their_own_output():
    with captured_stderr() as outer:
        os.write(2, b"outer\n")
        with captured_stderr() as inner:
            os.write(2, b"inner\n")
    assert inner.text == "inner\n" and outer.text == "outer\n"


def test_a_process_without_stderr_still_compiles():
    code = ("import os, numpy as np, mlc\n"
            "os.close(2)\n"
            "a = np.arange(6, dtype='int32').reshape(2, 3)\n"
            "print(mlc.jit(lambda x, y: x @ y)(a, a.T).tolist())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "MLC_CACHE_DIR": ""})
    assert done.returncode == 0 and done.stdout.strip() == "[[5, 14], [14, 50]]", done
