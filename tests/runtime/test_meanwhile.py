"""meanwhile: the work a thread names is run once, by that thread, at its first wait for a
build's compiler threads within the block."""
import threading

from mlc.runtime.meanwhile import meanwhile, while_waiting


def test_the_work_runs_once_at_the_first_wait_within_the_block():
    done = []
    while_waiting()  # (no block: nothing to run)
    with meanwhile(lambda: done.append(1)):
        assert done == []
        while_waiting()
        while_waiting()
    while_waiting()
    assert done == [1]


def test_another_threads_wait_does_not_run_this_threads_work():
    done = []
    with meanwhile(lambda: done.append("here")):
        other = threading.Thread(target=while_waiting)
        other.start()
        other.join()
        assert done == []
        while_waiting()
    assert done == ["here"]


def test_an_inner_block_names_its_own_work_and_the_outer_comes_back_after_it():
    done = []
    with meanwhile(lambda: done.append("outer")):
        with meanwhile(lambda: done.append("inner")):
            while_waiting()
        while_waiting()
    assert done == ["inner", "outer"]


def test_a_block_left_by_an_error_leaves_no_work_behind():
    done = []
    try:
        with meanwhile(lambda: done.append(1)):
            raise KeyError("the build failed")
    except KeyError:
        pass
    while_waiting()
    assert done == []


def test_a_block_naming_no_work_runs_none_and_hides_the_outer_blocks_work_within_it():
    done = []
    with meanwhile(lambda: done.append("outer")):
        with meanwhile(None):
            while_waiting()
        assert done == []
        while_waiting()
    assert done == ["outer"]
