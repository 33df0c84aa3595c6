"""The trace: every schedule primitive call, replayable, printable and serialisable.

A hand schedule, a decorator schedule and a tuning record are the same
artifact. ``str(trace)`` is Python you can run on a fresh Schedule; JSON
keeps the same information for databases.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any

from ..errors import ScheduleError
from .handles import BlockRV, ExprRV, LoopRV

__all__ = ["Instruction", "Trace"]


@dataclass(frozen=True)
class Instruction:
    """One primitive call: its name, inputs by parameter name, and what it returned."""
    kind: str
    inputs: dict[str, Any]
    outputs: Any


def _is_rv(x) -> bool:
    return isinstance(x, (BlockRV, LoopRV, ExprRV))


def _prefix(x) -> str:
    return "b" if isinstance(x, BlockRV) else "l" if isinstance(x, LoopRV) else "v"


def _flat_rvs(x) -> list:
    if _is_rv(x):
        return [x]
    if isinstance(x, (list, tuple)):
        return [rv for item in x for rv in _flat_rvs(item)]
    return []


class Trace:
    """An ordered list of :class:`Instruction`."""

    def __init__(self, insts: list[Instruction] | None = None):
        self.insts: list[Instruction] = list(insts or [])

    def append(self, inst: Instruction) -> None:
        self.insts.append(inst)

    def __len__(self) -> int:
        return len(self.insts)

    def __iter__(self):
        return iter(self.insts)

    # ------------------------------------------------------------ numbering
    def _numbering(self) -> dict[int, int]:
        """Number every RV by the order it is first produced."""
        numbers: dict[int, int] = {}
        for inst in self.insts:
            for rv in _flat_rvs(inst.outputs):
                numbers.setdefault(id(rv), len(numbers))
        return numbers

    # ---------------------------------------------------------------- python
    def as_python(self, func_name: str = "apply_schedule") -> str:
        """The trace as a Python function of a Schedule."""
        numbers = self._numbering()
        names = {}
        for inst in self.insts:
            for rv in _flat_rvs(inst.outputs):
                names.setdefault(id(rv), f"{_prefix(rv)}{numbers[id(rv)]}")

        def text(value) -> str:
            if _is_rv(value) and id(value) in names:
                return names[id(value)]
            if isinstance(value, (list, tuple)):
                inner = ", ".join(text(v) for v in value)
                return f"[{inner}]"
            return repr(int(value)) if _is_rv(value) else repr(value)

        lines = [f"def {func_name}(sch):"]
        for inst in self.insts:
            args = ", ".join(f"{k}={text(v)}" for k, v in inst.inputs.items())
            call = f"sch.{inst.kind}({args})"
            outs = inst.outputs
            if _is_rv(outs):
                lines.append(f"    {names[id(outs)]} = {call}")
            elif isinstance(outs, (list, tuple)) and outs and all(_is_rv(o) for o in outs):
                targets = ", ".join(names[id(o)] for o in outs)
                lines.append(f"    {targets}{',' if len(outs) == 1 else ''} = {call}")
            else:
                lines.append(f"    {call}")
        if len(lines) == 1:
            lines.append("    pass")
        return "\n".join(lines)

    def show(self) -> None:
        """Print the trace as Python (the course's ``sch.trace.show()``)."""
        print(self.as_python())

    def __str__(self) -> str:
        return self.as_python()

    def __repr__(self) -> str:
        return self.as_python()

    # ------------------------------------------------------------------ json
    def to_json(self) -> str:
        """JSON text: ``{"insts": [{"kind", "inputs", "outputs"}]}`` with RVs as ``{"rv": n}``."""
        numbers = self._numbering()

        def enc(value):
            if _is_rv(value):
                if id(value) in numbers:
                    return {"rv": numbers[id(value)], "kind": _prefix(value)}
                return int(value)  # an ExprRV from outside this trace: just its value
            if isinstance(value, (list, tuple)):
                return [enc(v) for v in value]
            if value is None or isinstance(value, (bool, int, float, str)):
                return value
            raise ScheduleError(f"trace: cannot serialise {value!r} of type {type(value).__name__}")

        insts = [{"kind": i.kind, "inputs": {k: enc(v) for k, v in i.inputs.items()},
                  "outputs": enc(i.outputs)} for i in self.insts]
        return json.dumps({"insts": insts})

    @staticmethod
    def from_json(data) -> "Trace":
        """A trace from :meth:`to_json` text (or its parsed dict); apply it with :meth:`apply`.

        The record is checked before anything is built: malformed JSON, a
        missing or mistyped field, or an RV used before an instruction
        produced it is a :class:`~mlc.ScheduleError` that names the
        instruction and the field.
        """
        if isinstance(data, (str, bytes, bytearray)):
            try:
                obj = json.loads(data)
            except (ValueError, RecursionError) as err:
                raise ScheduleError(f"trace JSON is not valid JSON: {err}") from None
        else:
            obj = data
        if not isinstance(obj, dict) or not isinstance(obj.get("insts"), list):
            got = type(obj).__name__ if not isinstance(obj, dict) else \
                f"an object with keys {sorted(map(str, obj))}"
            raise ScheduleError(f"trace JSON must be an object with an 'insts' list, like "
                                f"Trace.to_json() writes; got {got}")
        produced: dict[int, str | None] = {}
        insts = []
        for n, raw in enumerate(obj["insts"]):
            insts.append(_read_instruction(n, raw, produced))
        return _JsonTrace(insts)

    # ---------------------------------------------------------------- replay
    def apply(self, sch):
        """Replay every instruction on ``sch`` (a fresh Schedule of the same module)."""
        live: dict[int, Any] = {}  # RV number -> RV of sch
        numbers = self._numbering()

        def dec(value):
            key = self._rv_key(value, numbers)
            if key is not None:
                if key not in live:
                    raise ScheduleError(f"trace: RV {key} is used before it is produced")
                return live[key]
            if isinstance(value, (list, tuple)):
                return [dec(v) for v in value]
            return value

        for inst in self.insts:
            method = getattr(sch, inst.kind, None)
            if method is None or not getattr(method, "is_instruction", False):
                raise ScheduleError(f"trace: unknown schedule primitive {inst.kind!r}")
            kwargs = {k: dec(v) for k, v in inst.inputs.items()}
            try:
                inspect.signature(method).bind(**kwargs)
            except TypeError as err:
                raise ScheduleError(f"trace: the {inst.kind} instruction's inputs "
                                    f"{sorted(inst.inputs)} do not fit "
                                    f"{inst.kind}{inspect.signature(method)}: {err}") from None
            result = method(**kwargs)
            self._bind_outputs(inst.outputs, result, live, numbers)
        return sch

    def _rv_key(self, value, numbers):
        if _is_rv(value):
            return numbers.get(id(value))
        return None

    def _bind_outputs(self, recorded, result, live, numbers) -> None:
        key = self._rv_key(recorded, numbers)
        if key is not None:
            live[key] = result
        elif isinstance(recorded, (list, tuple)) and isinstance(result, (list, tuple)):
            if len(recorded) != len(result):
                raise ScheduleError("trace: replay produced a different number of outputs")
            for r, v in zip(recorded, result):
                self._bind_outputs(r, v, live, numbers)


class _JsonTrace(Trace):
    """A trace read from JSON: RVs are ``{"rv": n}`` dicts instead of objects."""

    def _numbering(self):
        return {}

    def _rv_key(self, value, numbers):
        if isinstance(value, dict) and "rv" in value:
            return value["rv"]
        return None

    def as_python(self, func_name: str = "apply_schedule") -> str:
        raise ScheduleError("apply a JSON trace to a Schedule first; print sch.trace instead")


# ------------------------------------------------------------ JSON checking

_RV_KINDS = {"b": "BlockRV", "l": "LoopRV", "v": "ExprRV"}


def _read_instruction(n: int, raw, produced: dict) -> Instruction:
    """Instruction ``n`` of a JSON trace, checked; records the RVs it produces in ``produced``."""
    where = f"trace JSON: instruction {n}"
    if not isinstance(raw, dict):
        raise ScheduleError(f"{where} must be an object with 'kind', 'inputs' and 'outputs', "
                            f"got {type(raw).__name__}")
    missing = [key for key in ("kind", "inputs", "outputs") if key not in raw]
    extra = sorted(str(key) for key in raw if key not in ("kind", "inputs", "outputs"))
    if missing or extra:
        raise ScheduleError(f"{where} must have exactly the keys 'kind', 'inputs' and 'outputs'; "
                            f"missing {missing}, unexpected {extra}")
    kind = raw["kind"]
    if not isinstance(kind, str) or not kind.isidentifier():
        raise ScheduleError(f"{where}: 'kind' must name a schedule primitive, got {kind!r}")
    where = f"{where} ({kind})"
    inputs = raw["inputs"]
    if not isinstance(inputs, dict):
        raise ScheduleError(f"{where}: 'inputs' must be an object of parameter names, "
                            f"got {type(inputs).__name__}")
    for name, value in inputs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ScheduleError(f"{where}: input name {name!r} is not a parameter name")
        _check_value(value, f"{where}, input {name!r}", produced, output=False)
    _check_value(raw["outputs"], f"{where}, outputs", produced, output=True)
    return Instruction(kind, dict(inputs), raw["outputs"])


def _check_value(value, where: str, produced: dict, output: bool) -> None:
    """A JSON value of a trace: a scalar, a list, or an RV ``{"rv": n, "kind": "b"|"l"|"v"}``.

    An input RV must have been produced before; an output RV must be new.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (bool, int, float, str)):
            continue
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            raise ScheduleError(f"{where}: {type(item).__name__} is not a trace value")
        number, kind = item.get("rv"), item.get("kind")
        if set(item) - {"rv", "kind"} or isinstance(number, bool) or not isinstance(number, int) \
                or number < 0 or kind not in (None, *_RV_KINDS):
            raise ScheduleError(f"{where}: {item!r} is not an RV; RVs are written "
                                "{\"rv\": <number >= 0>, \"kind\": \"b\" | \"l\" | \"v\"}")
        if output:
            if number in produced:
                raise ScheduleError(f"{where}: RV {number} was already produced earlier; every "
                                    "instruction produces new RVs")
            produced[number] = kind
        else:
            if number not in produced:
                raise ScheduleError(f"{where}: RV {number} is used before an instruction "
                                    "produces it")
            if kind is not None and produced[number] not in (None, kind):
                raise ScheduleError(f"{where}: RV {number} is used as a {_RV_KINDS[kind]} but was "
                                    f"produced as a {_RV_KINDS[produced[number]]}")
