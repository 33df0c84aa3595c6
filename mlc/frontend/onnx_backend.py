"""ONNX's backend interface (``onnx.backend.base.Backend``) over :func:`from_onnx` and ``mlc.build``.

ONNX's conformance suite (``onnx.backend.test``) drives any backend through
this interface; so do tools written for onnxruntime's or TVM's backends.
``prepare`` imports and builds a model once; the returned rep's ``run``
takes the inputs in the model's input order and returns its outputs in its
output order:

>>> import numpy as np, onnx
>>> from onnx import TensorProto, helper
>>> from mlc.frontend import onnx_backend
>>> graph = helper.make_graph(
...     [helper.make_node("Relu", ["x"], ["y"])], "relu",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
>>> rep = onnx_backend.prepare(helper.make_model(graph))
>>> rep.run([np.array([-1.0, 2.0], "float32")])[0]
array([0., 2.], dtype=float32)

``device`` is ONNX's device string: ``"CPU"`` builds for ``target``
(``"llvm"`` unless given), ``"CUDA"`` for ``"cuda"``. Models with dynamic
dimensions build once and run every size (:func:`from_onnx` imports the
dimensions as symbols). A model input the import must know the value of (a
Reshape's shape given as an input) is fixed from each run's value: the rep
builds once per distinct value of such inputs and keeps every build.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..graph.build import build as build_graph
from .common import FrontendError
from .onnx import SUPPORTED_OPS, InputValueNeeded, _onnx, from_onnx

__all__ = ["MLCBackend", "MLCBackendRep", "prepare", "run_model", "run_node", "supports_device",
           "is_compatible"]

_DEVICE_TARGETS = {"CPU": "llvm", "CUDA": "cuda"}


_onnx()  # this module needs onnx: a FrontendError saying how to install it otherwise
from onnx.backend.base import Backend, BackendRep  # noqa: E402


def _target_for(device: str, target: str | None) -> str:
    if target is not None:
        return target
    kind = str(device).split(":")[0].upper()
    if kind not in _DEVICE_TARGETS:
        raise FrontendError(f"onnx_backend: device {device!r} is not supported; supported: "
                            f"{', '.join(_DEVICE_TARGETS)} (or give target=...)")
    return _DEVICE_TARGETS[kind]


class MLCBackendRep(BackendRep):
    """A built model: ``run(inputs)`` -> the outputs, a tuple in the model's output order."""

    def __init__(self, model, target: str, **import_options):
        self.model = model
        self.target = target
        self.import_options = import_options
        initializers = {i.name for i in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in initializers]
        self.output_names = [o.name for o in model.graph.output]
        self.value_inputs: list[str] = []  # inputs the import needs the values of
        self._builds: dict[tuple, object] = {}
        self.module = self._import({})
        self._main = None if self.module is None else self._build(self.module)

    def _import(self, values: dict):
        """The imported module, or None while the import needs the value of another input
        (that input joins ``value_inputs``: each run then builds per value, cached)."""
        while True:
            try:
                return from_onnx(self.model, input_values=values or None, **self.import_options)
            except InputValueNeeded as err:
                if err.input_name in self.value_inputs or err.input_name not in self.input_names:
                    raise
                self.value_inputs.append(err.input_name)
                if err.input_name not in values:
                    return None

    def _build(self, module):
        return build_graph(module, self.target)["main"]

    def _main_for(self, inputs: list):
        if not self.value_inputs:
            return self._main, inputs
        values = {n: np.asarray(a) for n, a in zip(self.input_names, inputs) if n in self.value_inputs}
        key = tuple((n, v.dtype.str, v.shape, v.tobytes()) for n, v in sorted(values.items()))
        if key not in self._builds:
            module = self._import(values)
            while module is None:  # (a value input found only once the earlier ones are known)
                values = {n: np.asarray(a) for n, a in zip(self.input_names, inputs) if n in self.value_inputs}
                module = self._import(values)
            key = tuple((n, v.dtype.str, v.shape, v.tobytes()) for n, v in sorted(values.items()))
            self._builds[key] = self._build(module)
        rest = [a for n, a in zip(self.input_names, inputs) if n not in self.value_inputs]
        return self._builds[key], rest

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise FrontendError(f"onnx_backend: inputs {missing} are missing; the model takes "
                                    f"{self.input_names}")
            inputs = [inputs[n] for n in self.input_names]
        elif isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        onnx = _onnx()
        inputs = [onnx.numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else a
                  for a in list(inputs)[:len(self.input_names)]]  # (the suite passes optional inputs as well)
        main, args = self._main_for(inputs)
        out = main(*args)
        out = out if isinstance(out, tuple) else (out,)
        return namedtuple("Outputs", [f"o{i}" for i in range(len(out))])(*out)


class MLCBackend(Backend):
    """``onnx.backend.base.Backend`` for mlc: ``MLCBackend.prepare(model).run(inputs)``."""

    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs) -> bool:
        return all(n.op_type in SUPPORTED_OPS and n.domain in ("", "ai.onnx") for n in model.graph.node)

    @classmethod
    def prepare(cls, model, device: str = "CPU", target: str | None = None, **kwargs) -> MLCBackendRep:
        onnx = _onnx()
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            model = onnx.load(model)
        return MLCBackendRep(model, _target_for(device, target), **kwargs)

    @classmethod
    def run_model(cls, model, inputs, device: str = "CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device: str = "CPU", outputs_info=None, **kwargs):
        """Run one NodeProto on ``inputs`` (arrays in the node's input order)."""
        onnx = _onnx()
        from onnx import helper
        names = [n for n in node.input if n]
        value_infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.asarray(a).dtype),
                                                     np.asarray(a).shape) for n, a in zip(names, inputs)]
        outputs = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
        model = helper.make_model(helper.make_graph([node], "run_node", value_infos, outputs),
                                  opset_imports=[helper.make_opsetid("", kwargs.pop("opset", onnx.defs.onnx_opset_version()))])
        return cls.run_model(model, list(inputs), device, **kwargs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return str(device).split(":")[0].upper() in _DEVICE_TARGETS


prepare = MLCBackend.prepare
run_model = MLCBackend.run_model
run_node = MLCBackend.run_node
supports_device = MLCBackend.supports_device
is_compatible = MLCBackend.is_compatible
