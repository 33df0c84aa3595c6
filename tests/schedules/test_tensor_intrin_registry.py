"""The tensor-intrinsic registry: intrinsics mlc ships are built when first asked for."""
import pytest

from mlc import te
from mlc.errors import ScheduleError
from mlc.schedules import TensorIntrin
from mlc.schedules.intrinsics.cuda import WMMA_SYNC
from mlc.schedules.intrinsics.x86 import VNNI_S8S8


def _copy_pair():
    A = te.placeholder((4,), "float32", "A")
    return [A, te.compute((4,), lambda i: A[i], "B")]


def test_a_provided_intrinsic_is_built_on_first_use_only(monkeypatch):
    built = []
    monkeypatch.setattr(TensorIntrin, "_pending", dict(TensorIntrin._pending))
    monkeypatch.setattr(TensorIntrin, "_registry", dict(TensorIntrin._registry))

    def register():
        built.append(1)
        return TensorIntrin.register("test_lazy_copy4", _copy_pair(), _copy_pair())

    TensorIntrin.provide("test_lazy_copy4", register)
    assert built == []
    assert TensorIntrin.get("test_lazy_copy4").name == "test_lazy_copy4"
    assert TensorIntrin.get("test_lazy_copy4").name == "test_lazy_copy4"
    assert built == [1]


def test_registering_a_provided_name_meets_it_as_if_it_were_registered(monkeypatch):
    monkeypatch.setattr(TensorIntrin, "_pending", dict(TensorIntrin._pending))
    monkeypatch.setattr(TensorIntrin, "_registry", dict(TensorIntrin._registry))
    TensorIntrin.provide("test_lazy_taken", lambda: TensorIntrin.register("test_lazy_taken", _copy_pair(),
                                                                         _copy_pair()))
    with pytest.raises(ScheduleError, match="already registered"):
        TensorIntrin.register("test_lazy_taken", _copy_pair(), _copy_pair())
    TensorIntrin.register("test_lazy_taken", _copy_pair(), _copy_pair(), override=True)


def test_the_shipped_intrinsics_are_all_listed_and_found():
    names = TensorIntrin.names()
    assert WMMA_SYNC in names and VNNI_S8S8 in names and "x86_mac_8x16_f32" in names
    assert len(TensorIntrin.get(WMMA_SYNC).desc.params) == 3
    with pytest.raises(ScheduleError, match="no tensor intrinsic named 'nope'; registered: .*wmma"):
        TensorIntrin.get("nope")
